"""`bench train MODELS`: train each model (or load it from the checkpoint cache) and report it.

One row per model: where the weights came from (trained, cached, pretrained, file), the
epochs run, the best validation top-1 and the test top-1/top-5. ``--recipe FILE`` trains
with a recipe found by ``bench tune`` instead of the preset's. A rich progress bar on
stderr shows epoch, loss, accuracy, images/s and the ETA; ``--format json`` prints the
rows, with histories and evaluations, as JSON on stdout and nothing else there.

Transfer learning: ``--weights pretrained|PATH --freeze backbone|none|N`` fine-tunes from
those weights with the backbone (or the first N stages) frozen; a line on stderr and the
JSON (``trained_layers``, ``trainable_parameters``) say which layers trained. ``--norm``
and ``--dropout`` build the model with another normalization or classifier dropout
(:mod:`bench.zoo.norm`). The flags are shared with `bench run` (:func:`add_study_args`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
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

TABLE_COLUMNS = (
    ("model", "model", str),
    ("source", "source", str),
    ("epochs", "epochs", fmt_int),
    ("best_val_top1", "best val top-1", fmt_float(2)),
    ("test_top1", "test top-1", fmt_float(2)),
    ("test_top5", "test top-5", fmt_float(2)),
    ("train_seconds", "train s", fmt_float(1)),
    ("checkpoint", "checkpoint", lambda value: Path(value).name if value else "-"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train models on a data set, or load them from the checkpoint cache",
        description="Train each model with a per-family recipe (best epoch by validation "
        "accuracy) and evaluate it on the test split. Trained models are cached under a key "
        "of model, data, input size, recipe and seed; a cached model is loaded, not retrained.",
    )
    parser.add_argument("models", metavar="MODELS", help="comma-separated names or wildcards; `all` = the zoo")
    add_data_args(parser)
    add_training_args(parser)
    parser.add_argument(
        "--recipe", metavar="FILE", help="a recipe file written by `bench tune` (replaces --preset's recipe)"
    )
    parser.add_argument(
        "--input-size", type=positive_int, metavar="N", help="spatial input size (default: the data set's)"
    )
    add_device_arg(parser)
    add_study_args(parser, study=False)
    parser.add_argument("--retrain", action="store_true", help="train even when a cached checkpoint exists")
    add_format_arg(parser)
    parser.set_defaults(func=run)


def add_study_args(parser: argparse.ArgumentParser, *, study: bool) -> None:
    """The transfer-learning and normalization flags of `bench train` and `bench run`.

    ``study``: `bench run` takes a comma list of normalizations (one variant each) and applies
    ``--weights``/``--freeze`` to the baseline's training.
    """
    parser.add_argument(
        "--weights",
        metavar="pretrained|PATH",
        help=("the baseline's weights: " if study else "")
        + "torchvision's ImageNet weights (fine-tuned when the head is new) or a saved state "
        "dict/checkpoint (evaluated as it is); add --freeze to fine-tune either",
    )
    parser.add_argument(
        "--freeze",
        metavar="backbone|none|N",
        help="with --weights: fine-tune only the classifier (backbone), every layer (none), "
        "or all but the first N stages",
    )
    parser.add_argument(
        "--norm",
        metavar="bn,gn,ln,in,none" if study else "bn|gn|ln|in|none",
        help="normalizations to compare as variants (bn: the baseline)"
        if study
        else "swap the model's batch norm for group/layer/instance norm or none",
    )
    parser.add_argument("--dropout", type=float, metavar="P", help="classifier dropout probability, 0 <= P < 1")


def check_study_args(
    args: argparse.Namespace, names: Sequence[str], *, norms: Sequence[str], data_spec: Any
) -> dict[str, Any]:
    """Validate the flags of :func:`add_study_args` for every model (built as for ``data_spec``,
    the DatasetSpec) before any is trained; returns ``weights``, ``freeze`` (its label) and
    ``dropout`` as keyword arguments."""
    from bench.training.freeze import check_start, parse_freeze
    from bench.training.requests import input_size_for
    from bench.zoo import check_build_options, get_model_spec
    from bench.zoo.norm import SWAPPABLE, check_dropout

    freeze = parse_freeze(args.freeze) if args.freeze is not None else None
    check_start(freeze, args.weights)
    dropout = check_dropout(args.dropout) if args.dropout is not None else None
    kinds = [kind for kind in norms if kind != SWAPPABLE] or list(norms[:1]) or [None]  # bn alone: is there BN?
    for name in names:
        size = input_size_for(get_model_spec(name), data_spec, args.input_size)
        for kind in kinds:
            check_build_options(name, norm=kind, dropout=dropout, in_chans=data_spec.in_chans, input_size=size)
    return {"weights": args.weights, "freeze": freeze.label if freeze else None, "dropout": dropout}


def run(args: argparse.Namespace) -> int:
    from bench.cli.requests import data_request, training_request
    from bench.data import get_dataset_spec
    from bench.devices import resolve_device
    from bench.provider.provider import ModelProvider
    from bench.training.requests import BuildRequest
    from bench.zoo import resolve_model_names
    from bench.zoo.norm import parse_norm

    names = resolve_model_names(args.models)
    norm = parse_norm(args.norm) if args.norm else None
    data_spec = get_dataset_spec(args.dataset)
    options = check_study_args(args, names, norms=(norm,) if norm else (), data_spec=data_spec)
    recipe = None
    if args.recipe:
        from bench.training.tune import load_recipe

        recipe = load_recipe(args.recipe)
    data = data_request(args)
    training = training_request(args, resolve_device(args.device), recipe)
    build = BuildRequest(norm=norm, **options)
    splits_by_size: dict[int, Any] = {}
    rows: list[dict[str, Any]] = []
    with TrainProgress() as progress:
        for name in names:
            provider = ModelProvider(
                name,
                data=data,
                training=training,
                build=build,
                observer=_ModelProgress(progress, name),
                splits_cache=splits_by_size,
            )
            trained = provider.trained()
            for note in trained.notes:
                progress.log(f"{name}: {note}")
            rows.append(result_row(name, data_spec.name, trained))
    if args.format == "json":
        print_json(rows)
    else:
        settings = [f"recipe {args.recipe}" if args.recipe else f"preset {args.preset}"]
        settings += [f"--{flag} {value}" for flag, value in (("norm", norm), *options.items()) if value is not None]
        table = rows_table(rows, TABLE_COLUMNS, title=f"bench train - {data_spec.name}, {', '.join(settings)}")
        folders = sorted({str(Path(row["checkpoint"]).parent) for row in rows if row["checkpoint"]})
        if folders:
            table.caption = "checkpoints in " + ", ".join(folders)
        stdout.print(table)
    return EXIT_OK


def result_row(name: str, dataset: str, trained: Any) -> dict[str, Any]:
    """The JSON/table row of one trained model (``trained`` is a TrainedModel)."""
    evaluation = trained.evaluation
    return {
        "model": name,
        "dataset": dataset,
        "source": trained.source,
        "epochs": len(trained.history),
        "best_epoch": trained.best_epoch,
        "best_val_top1": trained.best_val_top1,
        "test_top1": evaluation.top1,
        "test_top5": evaluation.top5,
        "test_topk": evaluation.topk,
        "test_loss": evaluation.loss,
        "train_seconds": trained.train_seconds,
        "checkpoint": str(trained.checkpoint_path) if trained.checkpoint_path else None,
        "input_size": "x".join(str(s) for s in trained.splits.input_shape),
        "num_classes": trained.splits.num_classes,
        "recipe": trained.recipe.to_dict(),
        "norm": trained.model.bench_cfg.norm,
        "dropout": trained.model.bench_cfg.dropout,
        "freeze": trained.freeze.label if trained.freeze else None,
        "trained_layers": trained.trained_layers,
        "trainable_parameters": trained.trainable,
        "notes": trained.notes,
        "history": trained.history,
        "evaluation": evaluation.to_dict(),
    }


class TrainProgress:
    """A rich progress bar on stderr, one task per model; hands out :class:`TrainCallback` s."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(  # public: `bench run` adds its overall task to the same display
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def log(self, message: str) -> None:
        self.progress.console.print(message, highlight=False)

    def tracker(self, name: str) -> _ModelTracker:
        return _ModelTracker(self.progress, name)


class _ModelProgress:
    """One model's training as the provider's progress observer: its progress-bar task."""

    def __init__(self, progress: TrainProgress, name: str) -> None:
        self._progress = progress
        self._name = name

    def on_phase(self, phase: str) -> None:
        pass

    def train_callback(self) -> _ModelTracker:
        return self._progress.tracker(self._name)


class _ModelTracker:
    """The :class:`bench.training.TrainCallback` of one model's progress-bar task."""

    def __init__(self, progress: Any, name: str) -> None:
        self._progress = progress
        self._name = name
        self._task: Any = None
        self._epochs = 0
        self._steps = 0

    def on_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._epochs, self._steps = epochs, steps_per_epoch
        self._task = self._progress.add_task(self._name, total=epochs * steps_per_epoch, status="starting")

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None:
        self._progress.update(
            self._task,
            completed=(epoch - 1) * self._steps + step,
            status=f"epoch {epoch}/{self._epochs}  loss {loss:.3f}  acc {top1:5.1f}%  {images_per_s:,.0f} img/s",
        )

    def on_epoch_end(self, entry: dict[str, float]) -> None:
        self._progress.console.print(
            f"{self._name} epoch {entry['epoch']}/{self._epochs}: train loss {entry['train_loss']:.3f} "
            f"acc {entry['train_top1']:.1f}%, val loss {entry['val_loss']:.3f} acc {entry['val_top1']:.1f}%, "
            f"lr {entry['lr']:.2e}, {entry['seconds']:.1f} s",
            highlight=False,
        )
