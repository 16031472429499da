"""new_commit_sensor over N registered local repositories versus a sequential ls-remote loop.

Both sides look up the same branch heads of the same repositories in the same run; the figure
of merit is the ratio sensor / loop (target <= 0.5). The sensor is evaluated exactly as the
daemon evaluates it (build_sensor_context, resources from the config), on a first tick (every
repository is new, partitions requested) and on a steady-state tick (nothing new).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import dagster as dg

from prodsprint_dagster.config import load_config
from prodsprint_dagster.definitions import build_resources
from prodsprint_dagster.git import git_env
from sensors import new_commit_sensor


def make_repos(root: Path, count: int) -> list[Path]:
    seed = root / "seed"
    seed.mkdir(parents=True)
    env = {**git_env(), "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=seed, env=env, check=True)
    (seed / "app.py").write_text("print('hi')\n")
    subprocess.run(["git", "add", "."], cwd=seed, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "seed"], cwd=seed, env=env, check=True)
    repos = []
    for i in range(count):
        dest = root / "repos" / f"svc-{i:04d}"
        shutil.copytree(seed, dest, symlinks=True)
        repos.append(dest)
    return repos


def ls_remote_loop(repos: list[Path]) -> float:
    start = time.perf_counter()
    for repo in repos:
        subprocess.run(
            ["git", "ls-remote", "--heads", "--", str(repo), "refs/heads/main"],
            env=git_env(), capture_output=True, check=True,
        )  # fmt: skip
    return time.perf_counter() - start


def sensor_tick(resources, instance, cursor=None) -> tuple[float, dg.SensorResult]:
    start = time.perf_counter()
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        result = new_commit_sensor(ctx)
    return time.perf_counter() - start, result


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sensor-") as tmp:
        root = Path(tmp)
        repos = make_repos(root, args.repos)
        config = root / "prodsprint.yaml"
        config.write_text(
            "home: home\nrepos:\n"
            + "".join(f"  - name: svc-{i:04d}\n    url: {p}\n" for i, p in enumerate(repos))
        )
        resources = build_resources(load_config(config))
        instance = dg.DagsterInstance.ephemeral()

        loop_times, first_times, steady_times = [], [], []
        for _ in range(args.rounds):
            loop_times.append(ls_remote_loop(repos))
            first, result = sensor_tick(resources, instance)
            assert len(result.run_requests) == args.repos
            first_times.append(first)
            steady, again = sensor_tick(resources, instance, result.cursor)
            assert not again.run_requests
            steady_times.append(steady)

    loop, first, steady = (statistics.median(t) for t in (loop_times, first_times, steady_times))
    return {
        "benchmark": "new_commit_sensor",
        "repos": args.repos,
        "rounds": args.rounds,
        "sequential_ls_remote_s": round(loop, 3),
        "sensor_first_tick_s": round(first, 3),
        "sensor_steady_tick_s": round(steady, 3),
        "ratio_first_tick": round(first / loop, 3),
        "ratio_steady_tick": round(steady / loop, 3),
        "target_ratio": 0.5,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
