"""`bench viz MODEL`: look inside a trained model - feature maps, saliency, Grad-CAM, ROC, mistakes.

Uses the cached trained model (training it first when the cache has none, with the
training progress bar on stderr) and writes PNGs plus an ``index.md`` embedding them to
``--out`` (default ``viz/<model>-<dataset>[-<variant>]/``). stdout gets the list of what
was written; `--variant` draws a compressed variant (pruned-50, int8, pruned-50+int8).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli.common import (
    add_data_args,
    add_device_arg,
    add_training_args,
    positive_int,
    stderr,
    stdout,
)
from bench.errors import EXIT_OK, BenchError
from bench.provider.observer import SilentProgress

DEFAULT_IMAGES = 10
MAX_IMAGES = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "viz",
        help="draw feature maps, saliency, Grad-CAM, confusion matrix, ROC and mistakes of a trained model",
        description="Train (or load from the checkpoint cache) MODEL and write PNG figures and an index.md "
        "that embeds them: training curves, the confusion matrix, one-vs-rest ROC curves with AUC, the "
        "misclassified test images, the feature maps of every convolutional stage for one test image, and "
        "input-gradient saliency and Grad-CAM for --images test images with true and predicted labels.",
    )
    parser.add_argument("model", metavar="MODEL", help="one model name (see `bench list`)")
    add_data_args(parser)
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: viz/<model>-<dataset>[-<variant>])"
    )
    parser.add_argument(
        "--images",
        type=positive_int,
        default=DEFAULT_IMAGES,
        metavar="N",
        help=f"test images for saliency and Grad-CAM (default: {DEFAULT_IMAGES}, at most {MAX_IMAGES})",
    )
    parser.add_argument(
        "--variant",
        default="baseline",
        metavar="NAME",
        help="baseline, pruned-N, int8 or pruned-N+int8 (default: baseline)",
    )
    add_device_arg(parser)
    add_training_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli.requests import data_request, training_request
    from bench.devices import resolve_device
    from bench.viz.render import default_out_dir, render
    from bench.viz.subject import load_subject
    from bench.zoo import get_model_spec
    from compress.variants import parse_variant

    if args.images > MAX_IMAGES:
        raise BenchError(f"--images {args.images} is more than {MAX_IMAGES}", f"pass --images {MAX_IMAGES} or fewer")
    spec = get_model_spec(args.model)  # validates the name before any work
    variant = parse_variant(args.variant).name
    out_dir = args.out or default_out_dir(spec.name, args.dataset, variant)
    training = training_request(args, resolve_device(args.device))
    with _VizObserver(spec.name) as observer:
        subject = load_subject(
            spec.name, data=data_request(args), training=training, variant=variant, observer=observer
        )
        result = render(subject, out_dir, images=args.images, on_figure=observer.on_figure)
    for note in subject.notes:
        stderr.print(f"note: {note}", highlight=False, markup=False)
    for entry in result.entries:
        if entry.result.path is None:
            stderr.print(f"not drawn: {entry.caption} ({entry.result.reason})", highlight=False, markup=False)
    stdout.print(
        f"{spec.name} {variant} on {subject.dataset}: test top-1 {result.evaluation.top1:.2f}%, "
        f"{len(result.written)} figures in {out_dir}",
        highlight=False,
        markup=False,
    )
    for path in result.written:
        stdout.print(f"  {path}", highlight=False, markup=False)
    stdout.print(f"index: {result.index_path}", highlight=False, markup=False)
    return EXIT_OK


class _VizObserver(SilentProgress):
    """The training progress bar (when a model must be trained or fine-tuned) and a status line."""

    def __init__(self, model: str) -> None:
        from bench.cli.train_cmd import TrainProgress

        self._model = model
        self._progress = TrainProgress()
        self._phase = "train"

    def __enter__(self) -> _VizObserver:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def on_phase(self, phase: str) -> None:
        self._phase = phase  # train, prune, finetune, evaluate, quantize
        if phase in ("prune", "quantize"):
            self._progress.log(f"{self._model}: {phase}")

    def on_figure(self, name: str) -> None:
        self._progress.log(f"{self._model}: drawing {name}")

    def train_callback(self) -> Any:
        return self._progress.tracker(f"{self._model} {self._phase}")
