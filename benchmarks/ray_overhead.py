"""What `--executor ray` costs against the local executor, and what it buys on N workers.

1. Overhead: the same plan run with ``--executor local`` and ``--executor ray`` (one local
   Ray instance, so one worker at a time on this machine), in alternating rounds (local, ray,
   local, ray, ...), each a fresh ``bench run`` process with its own run directory and a
   shared, warm checkpoint cache (so the rounds time the executors, not training). Reports
   each wall time and the ratio of the medians.
2. On paper: given a results.json of a measured run (``--results``), the wall time of the
   same run on 1 and on N workers, scheduling whole models (the executor's unit of work)
   longest first onto the least-loaded worker (LPT; within 4/3 of the best schedule), from
   the per-model sums of ``cell_seconds``.

Run it on a quiet machine: ``python benchmarks/ray_overhead.py --rounds 3``, or
``--results runs/X/results.json --workers 8`` for the estimate alone.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PLAN = [
    "--models", "lenet5,resnet20,vgg11_bn", "--prune", "0.5", "--quantize", "int8", "--batch-sizes", "1,32",
]  # fmt: skip


def timed_run(executor: str, out: Path, cache: Path, plan: list[str]) -> float:
    """Wall seconds of one `bench run` process with ``executor``."""
    command = [sys.executable, "-m", "bench", "run", *plan, "--executor", executor, "--out", str(out)]
    command += ["--cache-dir", str(cache)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def overhead(rounds: int, plan: list[str]) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        timed_run("local", root / "warm", root / "cache", plan)  # trains once; every round then hits the cache
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        for index in range(rounds):
            for executor in ("local", "ray"):
                walls[executor].append(timed_run(executor, root / f"{executor}-{index}", root / "cache", plan))
    return walls


def model_seconds(results: Path) -> dict[str, float]:
    """Per-model sums of ``cell_seconds`` (a cell's time counted once, not per row)."""
    payload = json.loads(results.read_text())
    per_cell: dict[tuple[str, str], float] = {}
    for row in payload["rows"]:
        if row.get("cell_seconds") is not None:
            per_cell[(row["model"], row["variant"])] = float(row["cell_seconds"])
    totals: dict[str, float] = defaultdict(float)
    for (model, _), seconds in per_cell.items():
        totals[model] += seconds
    return dict(totals)


def makespan(durations: list[float], workers: int) -> float:
    """Wall time of longest-first scheduling of ``durations`` onto ``workers``."""
    loads = [0.0] * max(1, workers)
    heapq.heapify(loads)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating local/ray rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="the tests' 3-model speed-only plan (no training)")
    parser.add_argument("--results", type=Path, help="a measured run's results.json for the N-worker estimate")
    parser.add_argument("--workers", type=int, default=8, help="workers for the estimate (default 8)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if args.results is not None:
        per_model = model_seconds(args.results)
        one, many = makespan(list(per_model.values()), 1), makespan(list(per_model.values()), args.workers)
        print(f"{len(per_model)} models from {args.results}: 1 worker {one:.0f} s, {args.workers} workers {many:.0f} s "
              f"({one / many:.2f}x; the longest model alone takes {max(per_model.values()):.0f} s)")  # fmt: skip
        return 0
    plan = PLAN
    if args.quick:  # the 3-model plan of the tests: speed-only data, no training
        plan = ["--models", "lenet5,resnet20,nin", "--dataset", "synthetic", "--input-size", "32", "--prune", "0.5",
                "--quantize", "int8", "--calib-images", "8", "--batch-sizes", "1"]  # fmt: skip
    walls = overhead(args.rounds, plan)
    for executor, values in walls.items():
        print(f"{executor:5s} wall s: " + ", ".join(f"{v:.1f}" for v in values))
    ratio = statistics.median(walls["ray"]) / statistics.median(walls["local"])
    print(f"ray / local median wall time: {ratio:.3f} over {args.rounds} alternating rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
