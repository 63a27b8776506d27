"""Does latency-aware pruning beat uniform ratios at equal measured latency? (issue 17)

Part 1, accuracy (``--models``, trained on digits with the ``quick`` preset, from the checkpoint
cache as ``bench run`` would): each model's uniform ``pruned-50`` is built and fine-tuned by the
same :class:`~bench.provider.provider.ModelProvider` ``bench run`` uses; its speedup over the
baseline is measured in alternating rounds; then the latency-aware variant is built with its
goal set to that measured speedup (``pruned-<S>x``, fine-tuned with the same recipe). Finally
the baseline and both variants are timed together, in alternating rounds, and the table shows
test top-1 after fine-tuning and the speedup each reaches in that last measurement.

Part 2, speed only (``--speed-models``, default resnet50 at 3x224x224, untrained weights):
uniform ``pruned-50`` against the baseline in alternating rounds, ``--repeats`` times (issue 17's
point 4: the uniform variant's speedup run to run), then a latency-aware variant with the goal
set to the uniform variant's median speedup, and the time its latency table took to build.

Goal (issue 17): on at least three of the trained models, the latency-aware variant keeps at
least the uniform one's top-1 at equal measured latency (its speedup at least ``--equal`` of
the uniform one's in the final measurement), or reaches at least 1.2x the uniform one's
speedup at equal top-1. Every figure is measured in one process; the table goes to stdout, the
rows to ``--json`` after each model (a run cut short keeps what it measured).

    python benchmarks/latency_pruning.py --threads 1 --json /tmp/latency_pruning.json
    python benchmarks/latency_pruning.py --models resnet20 --speed-models none

Exit code 0 when the goal is met, 1 otherwise. Timing needs a quiet machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/compress_speedups.py

import torch
from rich.console import Console
from rich.table import Table

from bench.provider.provider import CompressionRequest, ModelProvider
from bench.training.requests import DataRequest, TrainingRequest
from bench.zoo import create_model
from compress.latency_prune import CHECK_TIMING, LatencySettings, prune_to_target
from compress.latency_table import InterleavedTimer
from compress.pruning import prune_model
from compress.variants import make_variant, parse_variant

FINAL_ROUNDS = 9  # the closing three-way measurement
SPEEDUP_MARGIN = 1.2


def _timer(threads: int, rounds: int) -> InterleavedTimer:
    return InterleavedTimer("cpu", threads, CHECK_TIMING, rounds)


def _example(provider: ModelProvider, batch: int) -> torch.Tensor:
    shape = provider.splits().input_shape
    return torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))


def accuracy_row(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Uniform pruned-50 and the latency-aware variant at its measured speedup, fine-tuned."""
    started = time.perf_counter()
    latency = LatencySettings(threads=args.threads, batch_size=1, budget_s=args.budget, rounds=args.rounds)
    provider = ModelProvider(
        name,
        data=DataRequest(dataset="digits"),
        training=TrainingRequest(preset="quick", cache_dir=args.cache_dir),
        compression=CompressionRequest(importance="l1", latency=latency),
    )
    base = provider.baseline()
    inputs = _example(provider, 1)
    uniform = provider.variant(parse_variant("pruned-50"))
    goal = _timer(args.threads, args.rounds)([base.model, uniform.model], inputs).speedups[1][0]
    aware = provider.variant(make_variant(prune_target=f"speedup:{goal:.2f}"))
    final = _timer(args.threads, FINAL_ROUNDS)([base.model, uniform.model, aware.model], inputs)
    found = aware.latency
    return {
        "model": name,
        "baseline_top1": base.evaluation.top1 if base.evaluation else None,
        "uniform_top1": uniform.pruned.evaluation.top1,
        "aware_top1": aware.pruned.evaluation.top1,
        "goal": round(goal, 2),
        "uniform_speedup": final.speedups[1][0],
        "uniform_range": final.speedups[1][1:],
        "aware_speedup": final.speedups[2][0],
        "aware_range": final.speedups[2][1:],
        "aware_search_speedup": found.speedup if found else None,
        "aware_reached": found.reached if found else None,
        "aware_tries": len(found.attempts) if found else None,
        "aware_narrowed": found.narrowed if found else None,
        "table_seconds": found.table_seconds if found else None,
        "baseline_ms": final.ms[0],
        "test_images": len(provider.splits().test),
        "seconds": time.perf_counter() - started,
    }


def speed_row(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Uniform pruned-50's speedup over ``--repeats`` measurements, then latency-aware at it."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=1000, in_chans=3, input_size=224).eval()
    example = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    uniform = copy.deepcopy(model)
    prune_model(uniform, ratio=0.5, example_inputs=example, criterion="l1")
    repeats = [_timer(args.threads, args.rounds)([model, uniform], example).speedups[1] for _ in range(args.repeats)]
    goal = statistics.median(s[0] for s in repeats)
    settings = LatencySettings(
        threads=args.threads, batch_size=1, budget_s=args.budget, rounds=args.rounds, cache_dir=args.cache_dir
    )
    aware, found = prune_to_target(model, f"speedup:{goal:.2f}", example, settings=settings, criterion="l1")
    final = _timer(args.threads, FINAL_ROUNDS)([model, uniform, aware], example)
    return {
        "model": name,
        "uniform_repeats": [s[0] for s in repeats],
        "goal": round(goal, 2),
        "uniform_speedup": final.speedups[1][0],
        "aware_speedup": final.speedups[2][0],
        "aware_search_speedup": found.speedup,
        "aware_reached": found.reached,
        "aware_tries": len(found.attempts),
        "table_seconds": found.table_seconds,
        "table_cached": found.table_cached,
        "table_truncated": found.table_truncated,
        "multiple": found.multiple,
        "baseline_ms": final.ms[0],
    }


def verdict(row: dict[str, Any], equal: float) -> str:
    """``kept`` (top-1 at least uniform's at equal speed), ``faster`` (1.2x the speedup at
    equal top-1), or ``no``."""
    equal_speed = row["aware_speedup"] >= equal * row["uniform_speedup"]
    if equal_speed and row["aware_top1"] >= row["uniform_top1"]:
        return "kept"
    if row["aware_top1"] >= row["uniform_top1"] and row["aware_speedup"] >= SPEEDUP_MARGIN * row["uniform_speedup"]:
        return "faster"
    return "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet20,resnet18,vgg11_bn,googlenet")
    parser.add_argument("--speed-models", default="resnet50")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per speedup measurement")
    parser.add_argument("--repeats", type=int, default=4, help="speed part: measurements of uniform pruned-50")
    parser.add_argument("--budget", type=float, default=300.0, help="latency table budget, seconds")
    parser.add_argument("--equal", type=float, default=0.97, help="share of uniform's speedup counted as equal")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    console = Console(width=160)
    console.print(f"CPU: {_cpu_name()}, torch {torch.__version__}, {args.threads} thread(s), batch 1")
    rows: dict[str, list[dict[str, Any]]] = {"accuracy": [], "speed": []}

    def save() -> None:
        if args.json is not None:
            args.json.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")

    for name in [m for m in args.models.split(",") if m and m != "none"]:
        rows["accuracy"].append(accuracy_row(name, args))
        save()
    for name in [m for m in args.speed_models.split(",") if m and m != "none"]:
        rows["speed"].append(speed_row(name, args))
        save()
    table = Table(title="uniform pruned-50 vs latency-aware at its measured speedup (digits, quick, fine-tuned)")
    for column in ("model", "base top-1", "goal", "uniform", "top-1", "latency-aware", "top-1", "tries", "verdict"):
        table.add_column(column, justify="left" if column in ("model", "verdict") else "right")
    verdicts = []
    for row in rows["accuracy"]:
        verdicts.append(verdict(row, args.equal))
        table.add_row(
            row["model"], f"{row['baseline_top1']:.2f}", f"{row['goal']:.2f}x", f"{row['uniform_speedup']:.2f}x",
            f"{row['uniform_top1']:.2f}", f"{row['aware_speedup']:.2f}x", f"{row['aware_top1']:.2f}",
            str(row["aware_tries"]), verdicts[-1],
        )  # fmt: skip
    console.print(table)
    if rows["accuracy"]:
        images = rows["accuracy"][0]["test_images"]
        console.print(f"top-1 on {images} test images: one image is {100 / images:.2f} points")
    for row in rows["speed"]:
        repeats = ", ".join(f"{s:.2f}x" for s in row["uniform_repeats"])
        console.print(
            f"{row['model']} 224 b1: uniform pruned-50 {repeats} (repeats); final {row['uniform_speedup']:.2f}x; "
            f"latency-aware at {row['goal']:.2f}x: {row['aware_speedup']:.2f}x final "
            f"({row['aware_search_speedup']:.2f}x in its search, {row['aware_tries']} tries); table "
            f"{row['table_seconds']:.0f} s{' (cached)' if row['table_cached'] else ''}"
            f"{', truncated' if row['table_truncated'] else ''}, multiple {row['multiple']}"
        )
    met = sum(v != "no" for v in verdicts)
    needed = min(3, len(verdicts))
    console.print(f"goal: {met} of {len(verdicts)} trained models (needed {needed})")
    return 0 if met >= needed else 1


def _cpu_name() -> str:
    from bench.profiling.environment import device_name

    return device_name(torch.device("cpu"))


if __name__ == "__main__":
    sys.exit(main())
