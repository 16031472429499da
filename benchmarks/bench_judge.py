"""Milliseconds per canary-judge verdict on 2,000 samples per version (the issue's case).

Each run judges a fresh seeded window pair (2,000 requests and 2,000 latency samples per
version, 1 % errors, log-normal latencies around 120 ms): Fisher's exact test and the shifted
Wald test on errors, Mann-Whitney U and the Hodges-Lehmann shift (500 x 500 pairwise
differences after deterministic thinning) on latency, both absolute budgets. Windows are
generated before timing; only ``judge`` is timed. Prints one JSON object.

    python benchmarks/bench_judge.py [--samples 2000] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.release import JudgePolicy, Samples, judge


def window(rng: np.random.Generator, n: int, shift_ms: float = 0.0) -> Samples:
    return Samples(n, int(rng.binomial(n, 0.01)), rng.lognormal(np.log(120), 0.4, n) + shift_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="requests/latencies per version")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    policy = JudgePolicy(budget_p95_ms=500.0, budget_error_rate=0.05)
    rng = np.random.default_rng(2025)
    pairs = [(window(rng, args.samples), window(rng, args.samples)) for _ in range(args.runs)]
    judge(*pairs[0], policy)  # warm-up (imports, scipy caches)
    times = []
    outcomes: dict[str, int] = {}
    for canary, stable in pairs:
        start = time.perf_counter()
        verdict = judge(canary, stable, policy)
        times.append((time.perf_counter() - start) * 1000)
        outcomes[verdict.overall] = outcomes.get(verdict.overall, 0) + 1
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    print(
        json.dumps(
            {
                "samples_per_version": args.samples,
                "runs": args.runs,
                "judge_ms_median": round(statistics.median(times), 3),
                "judge_ms_p95": round(p95, 3),
                "judge_ms_max": round(times[-1], 3),
                "verdicts_on_identical_traffic": outcomes,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
