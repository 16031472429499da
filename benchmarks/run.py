"""`make bench`: run every benchmark and keep their JSON results in benchmarks/results/."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = sorted(p for p in HERE.glob("bench_*.py"))


def main() -> int:
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    failed = 0
    for bench in BENCHES:
        print(f"== {bench.stem}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(bench)], capture_output=True, text=True)
        if proc.returncode:
            failed += 1
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        result = json.loads(proc.stdout)
        (results_dir / f"{bench.stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
