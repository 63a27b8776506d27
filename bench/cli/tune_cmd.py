"""`bench tune MODEL --grid KEY=V1,V2 ...`: grid search over recipe fields on the validation split.

A rich progress bar on stderr follows the trials (and the steps of the one running); stdout
gets the trials ranked by validation top-1 (or, with ``--format json``, the ranked trials,
the best recipe and where it was saved, and nothing else). The best recipe is written to
``--out`` (default ``tune/<model>-<dataset>.json``) for ``bench train --recipe FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.args import add_data_args, add_device_arg, add_format_arg, add_threads_arg, add_training_args
from bench.cli.common import fmt_float, fmt_int, fmt_value, print_json, rows_table, stderr, stdout
from bench.cli.progress import NoticeObserver, TuneProgress
from bench.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="grid-search training-recipe fields, scored on the validation split",
        description="Train MODEL once per point of the grid (same initial weights each time), rank the "
        "points by validation top-1 of the kept epoch (never the test split), print the ranking and save "
        "the best recipe as JSON for `bench train --recipe FILE`. KEY is a recipe field such as lr, "
        "batch_size, optimizer (sgd or adamw; adam runs as AdamW), weight_decay or epochs; an unknown key's "
        "error lists them all. Trial models are not cached: train the best recipe with `bench train`.",
    )
    parser.add_argument("model", metavar="MODEL", help="one model name (see `bench list`)")
    add_data_args(parser)
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a recipe field and the values to try; repeat for more fields (the grid is their product)",
    )
    add_training_args(parser, epochs=False, cache=False)
    add_device_arg(parser)
    add_threads_arg(parser)
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="best recipe file (default: tune/<model>-<dataset>.json)"
    )
    add_format_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli.requests import data_request, training_request
    from bench.data import get_dataset_spec
    from bench.devices import resolve_device
    from bench.profiling.profiler import thread_count
    from bench.provider.provider import ModelProvider
    from bench.training.tune import default_recipe_path, parse_grid, save_recipe
    from bench.writable import check_writable_file
    from bench.zoo import get_model_spec

    spec = get_model_spec(args.model)
    grid = parse_grid(args.grid)  # bad keys and values fail before any training
    device = resolve_device(args.device)
    data_spec = get_dataset_spec(args.dataset)
    out = check_writable_file(args.out or default_recipe_path(spec.name, data_spec.name), "--out")
    _check_memory(spec.name, data_spec, args.preset, grid, device)
    provider = ModelProvider(
        spec.name, data=data_request(args), training=training_request(args, device), observer=NoticeObserver()
    )
    with thread_count(args.threads), TuneProgress() as progress:
        result = provider.search(grid, callback=progress)
    path = save_recipe(result, out)
    if args.format == "json":
        print_json(
            {
                "model": result.model,
                "dataset": result.dataset,
                "preset": result.preset,
                "score": "val_top1",
                "grid": result.grid,
                "trials": [t.to_dict() for t in result.trials],
                "best": {**result.best.to_dict(), "recipe": result.best.recipe.to_dict()},
                "recipe_file": str(path),
            }
        )
        return EXIT_OK
    rows = [{"rank": rank, **trial.to_dict(), **trial.params} for rank, trial in enumerate(result.trials, start=1)]
    columns = [("rank", "#", fmt_int)]
    columns += [(key, key, fmt_value) for key in result.grid]
    columns += [
        ("val_top1", "val top-1", fmt_float(2)),
        ("val_loss", "val loss", fmt_float(4)),
        ("best_epoch", "best epoch", fmt_int),
        ("seconds", "train s", fmt_float(1)),
        ("status", "status", str),
    ]
    table = rows_table(rows, columns, title=f"bench tune - {result.model} on {result.dataset}, preset {result.preset}")
    table.caption = f"ranked by validation top-1 (ties: lower loss); best recipe saved to {path}"
    if "adamw" in grid.get("optimizer", ()):
        table.caption += "; adamw is torch's AdamW, which --grid optimizer=adam also runs"
    stdout.print(table)
    for trial in result.trials:
        if trial.error:
            stderr.print(f"trial {trial.index} failed: {trial.error}", highlight=False, markup=False)
    return EXIT_OK


def _check_memory(name: str, data_spec: Any, preset: str, grid: dict[str, list[Any]], device: Any) -> None:
    """Refuse (exit 2) a grid whose largest training batch cannot fit, before any trial trains."""
    from bench.profiling.memory_estimate import check_model_fits
    from bench.training import get_recipe
    from bench.training.requests import input_size_for
    from bench.zoo import get_model_spec

    if not data_spec.has_labels:
        return  # tune refuses the data set itself, with its own message
    spec = get_model_spec(name)
    batch = max(grid.get("batch_size", [get_recipe(spec, preset, data_spec.name).batch_size]))
    check_model_fits(
        name,
        in_chans=data_spec.in_chans,
        input_size=input_size_for(spec, data_spec),
        num_classes=data_spec.num_classes or 2,
        device=device,
        train_batch=batch,
        fix="search smaller --grid batch_size values",
    )
