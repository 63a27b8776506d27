"""How well `bench compare` gates timing: false alarms and detection power, quiet and under load.

Each *pair* is two fresh measurements of a plan with the profiler (one row each, batch 1, one
thread), written to results.json files and compared as CI would, with
``latency_ms_p50:THRESHOLD`` (default 10%). The plan's model repeats a calibrated unit of real
work (a LeNet-5 forward pass, :data:`REPEATS` times per call), so a slowdown is real work, not
an edited file: +15% is 23 repeats against 20, +25% is 25, +50% is 30.

* false alarms: ``--pairs`` pairs of identical plans (20 repeats on both sides);
* detection: ``--pairs`` pairs for each slowdown (20 repeats in BASE, more in NEW).

Each condition runs on a quiet machine and under a bounded background load that the script
starts itself: one process pinned to one core, busy for ``--duty`` of every 10 ms, stopped at
the end (and by its own deadline, whatever happens to this process). The two measurements of a
pair alternate their order, so a drift favours neither side.

Two rules judge the same rows: cnnbench's (``reports.thresholds``: the change past the
threshold AND its seeded bootstrap interval excluding no change) and pytest-benchmark's
``--benchmark-compare-fail=median:10%`` (the median past the threshold, no noise allowance).
Goal (issue 12): under load at most 1 false alarm in 20, and at least 19 in 20 detected at
+25% and +50%.

Run it on an otherwise quiet machine: ``python benchmarks/regression_power.py`` (about ten
minutes); ``--quick`` is a smoke test of a few pairs with short timings.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.profiling.environment import collect_environment
from bench.profiling.profiler import ProfileOptions, profile_model
from bench.profiling.timing import TimingConfig
from bench.results.results_file import read_results, write_results_json
from bench.zoo import create_model
from reports.compare import compare_results
from reports.thresholds import parse_checks

REPEATS = 20  # units of work per call in BASE
SLOWDOWNS = (0.15, 0.25, 0.50)
LOAD_PERIOD_S = 0.010


class RepeatedWork(nn.Module):
    """``repeats`` forward passes of ``unit`` per call: work that scales exactly with repeats."""

    def __init__(self, unit: nn.Module, repeats: int) -> None:
        super().__init__()
        self.unit, self.repeats = unit, repeats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for _ in range(self.repeats):
            out = self.unit(x)
        return out


def _burn(core: int, duty: float, deadline: float, stop: multiprocessing.synchronize.Event) -> None:
    """The background load: busy ``duty`` of every period on ``core``, until stopped or the deadline."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    while not stop.is_set() and time.time() < deadline:
        start = time.perf_counter()
        while time.perf_counter() - start < duty * LOAD_PERIOD_S:
            pass
        time.sleep((1 - duty) * LOAD_PERIOD_S)


class BackgroundLoad:
    """Context manager: one busy process pinned to ``core`` (bounded to ``max_s`` seconds)."""

    def __init__(self, core: int, duty: float, max_s: float) -> None:
        self.core, self.duty, self.max_s = core, duty, max_s

    def __enter__(self) -> BackgroundLoad:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.process = context.Process(
            target=_burn, args=(self.core, self.duty, time.time() + self.max_s, self.stop), daemon=True
        )
        self.process.start()
        time.sleep(0.2)  # let it reach its core
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


@dataclass
class Tally:
    """Per rule: how many pairs were flagged, per kind of pair."""

    flagged: dict[str, dict[str, int]] = field(default_factory=dict)
    pairs: dict[str, int] = field(default_factory=dict)
    unstable_rows: int = 0
    rows: int = 0

    def add(self, kind: str, verdicts: dict[str, bool]) -> None:
        self.pairs[kind] = self.pairs.get(kind, 0) + 1
        for rule, flagged in verdicts.items():
            self.flagged.setdefault(rule, {}).setdefault(kind, 0)
            self.flagged[rule][kind] += int(flagged)


def measure(model: nn.Module, timing: TimingConfig) -> dict:
    options = ProfileOptions(batch_sizes=[1], threads=1, timing=timing)
    base_row = {"model": "repeated-lenet5", "variant": "baseline", "dataset": "synthetic"}
    (row,) = profile_model(model, input_shape=(1, 32, 32), options=options, base_row=base_row)
    return row


def judge(base_row: dict, new_row: dict, threshold: float, environment: dict, tmp: Path) -> dict[str, bool]:
    """Both rules on one pair; cnnbench's through results.json files, as `bench compare` reads them."""
    write_results_json(tmp / "base" / "results.json", environment, [base_row])
    write_results_json(tmp / "new" / "results.json", environment, [new_row])
    checks = parse_checks([f"latency_ms_p50:{threshold:g}%"])
    comparison = compare_results(read_results(tmp / "base"), read_results(tmp / "new"), checks)
    base_median = float(np.median(base_row["latency_samples_ms"]))
    new_median = float(np.median(new_row["latency_samples_ms"]))
    return {
        "cnnbench": bool(comparison.regressions),
        "pytest-benchmark median": (new_median - base_median) / base_median * 100 > threshold,
    }


def run_condition(
    unit: nn.Module, pairs: int, threshold: float, timing: TimingConfig, environment: dict, tmp: Path
) -> Tally:
    tally = Tally()
    base_model = RepeatedWork(unit, REPEATS)
    kinds = [("identical", REPEATS)] + [(f"+{s:.0%}", round(REPEATS * (1 + s))) for s in SLOWDOWNS]
    for index in range(pairs):
        for kind, repeats in kinds:
            new_model = RepeatedWork(unit, repeats)
            if index % 2:
                new_row, base_row = measure(new_model, timing), measure(base_model, timing)
            else:
                base_row, new_row = measure(base_model, timing), measure(new_model, timing)
            tally.rows += 2
            tally.unstable_rows += bool(base_row["timing_warnings"]) + bool(new_row["timing_warnings"])
            tally.add(kind, judge(base_row, new_row, threshold, environment, tmp))
        print(f"  pair {index + 1}/{pairs} done", file=sys.stderr, flush=True)
    return tally


def table(results: dict[str, Tally], threshold: float) -> str:
    kinds = ["identical"] + [f"+{s:.0%}" for s in SLOWDOWNS]
    header = f"| condition | rule | false alarms at {threshold:g}% | " + " | ".join(
        f"detected {kind}" for kind in kinds[1:]
    )
    lines = [header + " | unstable rows |", "|" + "---|" * (len(kinds) + 3)]
    for condition, tally in results.items():
        for rule, flagged in tally.flagged.items():
            cells = [f"{flagged.get(kind, 0)}/{tally.pairs.get(kind, 0)}" for kind in kinds]
            lines.append(f"| {condition} | {rule} | " + " | ".join(cells) + f" | {tally.unstable_rows}/{tally.rows} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=20, help="pairs per kind (identical, each slowdown)")
    parser.add_argument("--threshold", type=float, default=10.0, help="latency_ms_p50 threshold, percent")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of timed loop per row")
    parser.add_argument("--duty", type=float, default=0.6, help="busy fraction of the background load")
    parser.add_argument("--load-core", type=int, default=0, help="the core the background load is pinned to")
    parser.add_argument("--conditions", default="quiet,loaded", help="quiet, loaded or both")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 pairs, short timings")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.min_time = 2, 0.05
    torch.set_num_threads(1)
    torch.manual_seed(0)
    unit = create_model("lenet5", num_classes=10, in_chans=1, input_size=32).eval()
    timing = TimingConfig(warmup_iters=5, warmup_s=min(0.2, args.min_time), min_iters=25, min_time_s=args.min_time)
    environment = collect_environment(argv=sys.argv)
    results: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for condition in [c.strip() for c in args.conditions.split(",") if c.strip()]:
            print(f"{condition}: {args.pairs} pairs x {1 + len(SLOWDOWNS)} kinds", file=sys.stderr, flush=True)
            if condition == "loaded":
                bound = 4 * args.pairs * (1 + len(SLOWDOWNS)) * (args.min_time + 0.5) + 60
                with BackgroundLoad(args.load_core, args.duty, max_s=bound):
                    results[condition] = run_condition(unit, args.pairs, args.threshold, timing, environment, Path(tmp))
            elif condition == "quiet":
                results[condition] = run_condition(unit, args.pairs, args.threshold, timing, environment, Path(tmp))
            else:
                parser.error(f"unknown condition {condition!r}: use quiet, loaded or both")
    print(table(results, args.threshold))
    if args.json:
        payload = {c: {"flagged": t.flagged, "pairs": t.pairs, "unstable_rows": t.unstable_rows, "rows": t.rows}
                   for c, t in results.items()}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
