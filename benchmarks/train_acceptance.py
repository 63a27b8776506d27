"""Issue 3's acceptance run: every model trains on digits with `quick` to >= 90% test top-1.

    python benchmarks/train_acceptance.py                          # the zoo's whole `all` group
    python benchmarks/train_acceptance.py --models lenet5,resnet18 --threads 2

Each model is trained from scratch (``--retrain``; into a temporary cache unless
``--cache-dir`` is given) exactly as ``bench train MODEL --dataset digits`` would, with the
progress on stderr. Then a table (model, input, epochs, best val top-1, test top-1, train
seconds, wall seconds) and the total are printed, and the targets are checked:

* lenet5 reaches >= 97.5% test top-1 within 60 s, and a second call loads it from the
  cache with the identical accuracy;
* every model reaches >= 90% test top-1;
* the whole `all` group (when it is what was run) takes <= 60 minutes.

The targets are for a quiet 2-core CPU at 2 threads; on a shared machine the times say
little. Exit code 0 when every target holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

import torch

from bench.cli.common import fmt_float, fmt_int, rows_table, stdout
from bench.cli.progress import TrainProgress
from bench.devices import resolve_device
from bench.training import DataRequest, TrainingRequest, obtain_model
from bench.zoo import list_models, resolve_model_names

LENET_MIN_TOP1 = 97.5
LENET_MAX_SECONDS = 60.0
MODEL_MIN_TOP1 = 90.0
GROUP_MAX_SECONDS = 60 * 60.0

COLUMNS = (
    ("model", "model", str),
    ("input_size", "input", str),
    ("epochs", "epochs", fmt_int),
    ("best_val_top1", "best val top-1", fmt_float(2)),
    ("test_top1", "test top-1", fmt_float(2)),
    ("train_seconds", "train s", fmt_float(1)),
    ("wall_seconds", "wall s", fmt_float(1)),
    ("verdict", "verdict", str),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--models", default="all", help="names or wildcards (default: all)")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", help="keep the checkpoints here (default: a temporary folder)")
    return parser.parse_args(argv)


def train_one(name: str, args: argparse.Namespace, cache_dir: str, progress: TrainProgress) -> dict[str, Any]:
    """Train ``name`` from scratch; lenet5 is also reloaded from the cache to check the cache."""
    data = DataRequest(args.dataset, seed=args.seed)
    training = TrainingRequest(preset=args.preset, device=resolve_device(args.device), cache_dir=cache_dir)
    started = time.perf_counter()
    trained = obtain_model(name, data=data, training=replace(training, retrain=True), callback=progress.tracker(name))
    wall = time.perf_counter() - started
    top1 = trained.evaluation.top1
    problems = [] if top1 >= MODEL_MIN_TOP1 else [f"top-1 {top1:.2f} < {MODEL_MIN_TOP1}"]
    if name == "lenet5":
        if top1 < LENET_MIN_TOP1:
            problems.append(f"top-1 {top1:.2f} < {LENET_MIN_TOP1}")
        if wall > LENET_MAX_SECONDS:
            problems.append(f"{wall:.0f} s > {LENET_MAX_SECONDS:.0f} s")
        reload_started = time.perf_counter()
        cached = obtain_model(name, data=data, training=training)
        reload_seconds = time.perf_counter() - reload_started
        progress.log(f"lenet5 reloaded in {reload_seconds:.2f} s: {cached.source}, top-1 {cached.evaluation.top1:.2f}")
        if cached.source != "cached" or cached.evaluation.top1 != top1:
            problems.append("cache reload differs")
    return {
        "model": name,
        "input_size": "x".join(str(s) for s in trained.splits.input_shape),
        "epochs": len(trained.history),
        "best_val_top1": trained.best_val_top1,
        "test_top1": top1,
        "train_seconds": trained.train_seconds,
        "wall_seconds": wall,
        "verdict": "ok" if not problems else "FAIL: " + "; ".join(problems),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    names = resolve_model_names(args.models)
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="cnnbench-acceptance-")
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with TrainProgress() as progress:
        for name in names:
            rows.append(train_one(name, args, cache_dir, progress))
    total = time.perf_counter() - started
    whole_group = set(names) == set(list_models(group="all"))
    title = f"{args.preset} on {args.dataset}, {torch.get_num_threads()} thread(s), device {args.device}"
    stdout.print(rows_table(rows, COLUMNS, title=title))
    failed = [row["model"] for row in rows if row["verdict"] != "ok"]
    group_ok = not whole_group or total <= GROUP_MAX_SECONDS
    stdout.print(
        f"total {total / 60:.1f} min for {len(rows)} model(s)"
        + (f" (target for the whole group: <= {GROUP_MAX_SECONDS / 60:.0f} min)" if whole_group else "")
    )
    if failed or not group_ok:
        stdout.print("FAILED: " + ", ".join(failed + ([] if group_ok else ["group time"])))
        return 1
    stdout.print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
