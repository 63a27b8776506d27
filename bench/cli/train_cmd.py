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
(:mod:`bench.zoo.norm`). The flags are shared with `bench run` (:func:`bench.cli.args.add_study_args`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.args import (
    add_augment_args,
    add_data_args,
    add_device_arg,
    add_format_arg,
    add_input_size_arg,
    add_study_args,
    add_training_args,
    cache_dir_of,
    check_study_args,
    check_weights_file,
)
from bench.cli.common import fmt_float, fmt_int, print_json, rows_table, stdout
from bench.cli.progress import TrainProgress
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
    add_input_size_arg(parser)
    add_augment_args(parser)
    add_device_arg(parser)
    add_study_args(parser, study=False)
    parser.add_argument("--retrain", action="store_true", help="train even when a cached checkpoint exists")
    add_format_arg(parser)
    parser.set_defaults(func=run)


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
    check_weights_file(args.weights)
    recipe = None
    if args.recipe:
        from bench.training.tune import load_recipe

        recipe = load_recipe(args.recipe)
    device = resolve_device(args.device)
    cache_dir_of(args)
    if data_spec.has_labels:
        for name in names:
            _check_memory(name, data_spec, args, recipe, device)
    data = data_request(args)
    training = training_request(args, device, recipe)
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


def _check_memory(name: str, data_spec: Any, args: argparse.Namespace, recipe: Any, device: Any) -> None:
    """Refuse (exit 2) a model whose training step cannot fit, before any data is loaded."""
    from bench.profiling.memory_estimate import check_model_fits
    from bench.training import get_recipe
    from bench.training.requests import input_size_for
    from bench.zoo import get_model_spec

    spec = get_model_spec(name)
    batch = (recipe or get_recipe(spec, args.preset, data_spec.name, epochs=args.epochs)).batch_size
    check_model_fits(
        name,
        in_chans=data_spec.in_chans,
        input_size=input_size_for(spec, data_spec, args.input_size),
        num_classes=data_spec.num_classes or 2,
        device=device,
        train_batch=batch,
        fix="pass a smaller --input-size (or a --recipe with a smaller batch_size)",
    )


class _ModelProgress:
    """One model's training as the provider's progress observer: its progress-bar task."""

    def __init__(self, progress: TrainProgress, name: str) -> None:
        self._progress = progress
        self._name = name

    def on_phase(self, phase: str) -> None:
        pass

    def train_callback(self) -> Any:
        return self._progress.tracker(self._name)

    def on_notice(self, message: str) -> None:
        self._progress.notice(message)
