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

from bench.cli.common import (
    add_data_args,
    add_device_arg,
    add_format_arg,
    add_training_args,
    fmt_float,
    fmt_int,
    positive_int,
    print_json,
    rows_table,
    stderr,
    stdout,
)
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
    parser.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads (default: torch's)")
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="best recipe file (default: tune/<model>-<dataset>.json)"
    )
    add_format_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli.requests import data_request, training_request
    from bench.devices import resolve_device
    from bench.profiling.profiler import thread_count
    from bench.provider.provider import ModelProvider
    from bench.training.tune import default_recipe_path, parse_grid, save_recipe
    from bench.zoo import get_model_spec

    spec = get_model_spec(args.model)
    grid = parse_grid(args.grid)  # bad keys and values fail before any training
    training = training_request(args, resolve_device(args.device))
    provider = ModelProvider(spec.name, data=data_request(args), training=training)
    with thread_count(args.threads), TuneProgress() as progress:
        result = provider.search(grid, callback=progress)
    path = save_recipe(result, args.out or default_recipe_path(result.model, result.dataset))
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
    columns += [(key, key, _fmt_value) for key in result.grid]
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


def _fmt_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe(params: dict[str, Any]) -> str:
    return " ".join(f"{key}={_fmt_value(value)}" for key, value in params.items())


class TuneProgress:
    """A rich progress bar on stderr: trials done out of the grid, and the running trial's epoch.

    It is the search's :class:`bench.training.tune.TuneCallback` and hands each trial a
    training callback that updates the same bar.
    """

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=stderr,
        )
        self._task: Any = None
        self._label = ""

    def __enter__(self) -> TuneProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def on_trial_start(self, trial: int, total: int, params: dict[str, Any]) -> Any:
        if self._task is None:
            self._task = self._progress.add_task("trials", total=total, status="")
        self._label = _describe(params)
        self._progress.update(self._task, status=self._label)
        return _TrialSteps(self)

    def on_trial_end(self, trial: Any) -> None:
        score = f"val top-1 {trial.val_top1:.2f}%" if trial.status == "ok" else "failed"
        self._progress.console.print(
            f"trial {trial.index}: {_describe(trial.params)}: {score} ({trial.seconds:.1f} s)", highlight=False
        )
        self._progress.advance(self._task)

    def show(self, status: str) -> None:
        self._progress.update(self._task, status=f"{self._label}  {status}")


class _TrialSteps:
    """The training callback of one trial: its epoch, loss and accuracy on the trials bar."""

    def __init__(self, owner: TuneProgress) -> None:
        self._owner = owner
        self._epochs = 0

    def on_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._epochs = epochs

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None:
        self._owner.show(f"epoch {epoch}/{self._epochs}  loss {loss:.3f}  acc {top1:5.1f}%")

    def on_epoch_end(self, entry: dict[str, float]) -> None:
        self._owner.show(f"epoch {int(entry['epoch'])}/{self._epochs}  val {entry['val_top1']:.1f}%")
