"""`bench viz MODEL`: look inside a trained model - feature maps, saliency, Grad-CAM, ROC, mistakes.

Uses the cached trained model (training it first when the cache has none, with the
training progress bar on stderr) and writes PNGs plus an ``index.md`` embedding them to
``--out`` (default ``viz/<model>-<dataset>[-<variant>]/``). stdout gets the list of what
was written; `--variant` draws a compressed variant (pruned-50, int8, pruned-50+int8).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.args import add_data_args, add_device_arg, add_positive, add_training_args, cache_dir_of
from bench.cli.common import stderr, stdout
from bench.cli.progress import VizObserver
from bench.errors import EXIT_OK, BenchError

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
    add_positive(
        parser,
        "--images",
        default=DEFAULT_IMAGES,
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
    from bench.writable import check_writable_dir
    from bench.zoo import get_model_spec
    from compress.variants import parse_variant

    if args.images > MAX_IMAGES:
        raise BenchError(f"--images {args.images} is more than {MAX_IMAGES}", f"pass --images {MAX_IMAGES} or fewer")
    spec = get_model_spec(args.model)  # validates the name before any work
    variant = parse_variant(args.variant).name
    out_dir = check_writable_dir(args.out or default_out_dir(spec.name, args.dataset, variant), "--out")
    cache_dir_of(args)
    training = training_request(args, resolve_device(args.device))
    with VizObserver(spec.name) as observer:
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
