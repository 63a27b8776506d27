"""`bench run`: the main job - models to trained, compressed, measured variants and a report.

Defaults (the contract): ``--models all --dataset digits --device auto --preset quick
--prune 0.5 --quantize int8 --batch-sizes 1,32``, writing to ``runs/<timestamp>/``.
Exit 0 when every cell is ok, 1 when a cell failed or ``--baseline`` found a regression
(the report is written either way), 2 on bad input.

``--norm bn,gn,ln,in`` makes a normalization study: each kind but the model's own batch norm
(the baseline) is a ``norm-*`` variant, trained with the same recipe and reported beside the
compression variants; compression applies to the baseline only. ``--weights``/``--freeze``
train the baseline by transfer learning, ``--dropout`` sets every trained model's classifier
dropout.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cli.args import (
    add_augment_args,
    add_batch_sizes_arg,
    add_compression_args,
    add_data_args,
    add_device_arg,
    add_input_size_arg,
    add_positive,
    add_runtime_arg,
    add_study_args,
    add_threads_arg,
    add_timing_args,
    add_training_args,
    cache_dir_of,
    check_compression_args,
    check_runtime_arg,
    check_study_args,
    check_weights_file,
    parse_batch_sizes,
    prune_targets_of,
    timing_from_args,
)
from bench.cli.common import stderr, stdout
from bench.cli.progress import LiveObserver, LogObserver
from bench.errors import EXIT_FAILED, EXIT_OK, BenchError

if TYPE_CHECKING:
    from bench.runner.config import RunConfig
    from bench.runner.run import RunSummary
    from reports.compare import Comparison


def register(subparsers: argparse._SubParsersAction) -> None:
    from compress.quantization import DEFAULT_CALIBRATION_IMAGES

    parser = subparsers.add_parser(
        "run",
        help="train, compress, evaluate and time models; write results and a markdown report",
        description="For each model: train or load it, evaluate it, time it per batch size; then "
        "build each variant (pruned-N, pruned-Xx, int8, pruned-N+int8), fine-tune where it applies, evaluate and "
        "time it. Rows are stored as each cell finishes (results.db, results.json, results.csv) and "
        "report.md with figures is written at the end.",
    )
    parser.add_argument("--models", default="all", metavar="SPEC", help="names, wildcards or 'all' (default: all)")
    add_data_args(parser)
    add_device_arg(parser)
    add_training_args(parser)
    add_input_size_arg(parser)
    add_augment_args(parser)
    add_compression_args(parser, prune="0.5", quantize="int8")
    add_positive(
        parser,
        "--calib-images",
        default=DEFAULT_CALIBRATION_IMAGES,
        help=f"int8 calibration images ({DEFAULT_CALIBRATION_IMAGES})",
    )
    add_batch_sizes_arg(parser, "1,32")
    add_runtime_arg(parser)
    add_threads_arg(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", help="run directory (default: runs/<timestamp>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished cells")
    parser.add_argument("--baseline", type=Path, metavar="FILE", help="compare with this run (results.json or run dir)")
    parser.add_argument(
        "--executor",
        default="local",
        metavar="local|ray",
        help="where the models run: this process (local, default) or one Ray task per model (ray)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="auto|HOST:PORT",
        help="with --executor ray: join this running cluster (default: start a local Ray instance)",
    )
    parser.add_argument(
        "--max-drop",
        type=float,
        metavar="P",
        help="top-1 points int8 may lose on the validation split (its most sensitive layers stay float "
        "to meet it; default: plain int8) and a variant may lose to be picked by the report (default: 0.5)",
    )
    add_study_args(parser, study=True)
    add_timing_args(parser)
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The validated RunConfig of the parsed flags; bad values are BenchErrors."""
    from bench.data import get_dataset_spec
    from bench.devices import resolve_device
    from bench.runner.config import RunConfig
    from bench.runner.executors import parse_executor
    from bench.training.weights import PRETRAINED
    from bench.zoo import resolve_model_names
    from bench.zoo.norm import parse_norms

    ratios, quantize = check_compression_args(args)
    runtimes = check_runtime_arg(args)
    executor = parse_executor(args.executor)
    if args.ray_address is not None and executor != "ray":
        raise BenchError("--ray-address goes with --executor ray", "add --executor ray, or drop --ray-address")
    if args.resume and args.out is None:
        raise BenchError("--resume needs --out DIR naming the run to continue", "pass e.g. --out runs/20261123-120000")
    out = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    models = tuple(resolve_model_names(args.models))
    norms = tuple(parse_norms(args.norm)) if args.norm else ()
    options = check_study_args(args, models, norms=norms, data_spec=get_dataset_spec(args.dataset))
    if norms and args.weights:
        raise BenchError(
            "--norm studies train every normalization from scratch, but --weights fine-tunes the baseline",
            "drop --weights (or --norm) so that the models compared were trained alike",
        )
    if args.weights and args.weights != PRETRAINED and len(models) > 1:
        raise BenchError(
            f"--weights {args.weights} holds one model's weights, but --models names {len(models)}",
            "pass one model with --models, or --weights pretrained",
        )
    check_weights_file(args.weights)
    return RunConfig(
        models=models,
        out_dir=out,
        dataset=args.dataset,
        data_dir=args.data_dir,
        device=resolve_device(args.device),
        preset=args.preset,
        epochs=args.epochs,
        seed=args.seed,
        input_size=args.input_size,
        augment=args.augment,
        hflip=args.hflip,
        prune_ratios=tuple(ratios),
        prune_targets=tuple(prune_targets_of(args)),
        prune_budget_s=args.prune_budget,
        quantize=quantize,
        importance=args.importance,
        engine=args.engine,
        calib_images=args.calib_images,
        batch_sizes=tuple(parse_batch_sizes(args.batch_sizes)),
        threads=args.threads,
        timing=timing_from_args(args),
        cache_dir=args.cache_dir,
        damaged_cache=args.damaged_cache,
        download=args.download,
        resume=args.resume,
        baseline=args.baseline,
        norms=norms,
        executor=executor,
        ray_address=args.ray_address,
        max_drop=args.max_drop,
        runtimes=runtimes,
        **options,
    )


def run(args: argparse.Namespace) -> int:
    from bench.results.results_file import read_results
    from bench.runner.run import execute_run
    from bench.writable import check_writable_dir
    from reports.compare import compare_results
    from reports.markdown import write_report
    from reports.thresholds import parse_checks

    config = build_config(args)
    check_writable_dir(config.out_dir, "--out")
    cache_dir_of(args)
    baseline = read_results(config.baseline) if config.baseline is not None else None  # bad file: exit 2 now
    observer = LiveObserver() if sys.stdout.isatty() and sys.stderr.isatty() else LogObserver()

    def report_writer(out_dir: Path) -> Path:
        """The report, with the --baseline comparison when the runs share rows (else without:
        the comparison below then names the problem; the run's report is written either way)."""
        if baseline is not None:
            try:
                return write_report(out_dir, baseline=baseline)
            except BenchError:
                pass
        return write_report(out_dir)

    with observer:
        summary = execute_run(config, observer, argv=args.argv, write_report=report_writer)
    comparison = None
    if baseline is not None:
        comparison = compare_results(baseline, read_results(config.out_dir), parse_checks(None))
    _print_summary(summary, comparison)
    regressed = comparison is not None and comparison.exit_code != EXIT_OK
    return EXIT_OK if summary.ok and not regressed else EXIT_FAILED


def _print_summary(summary: RunSummary, comparison: Comparison | None) -> None:
    stderr.print(
        f"{summary.cells_run} cells run, {summary.cells_resumed} resumed, {len(summary.failed)} failed "
        f"in {summary.seconds:.0f} s; results in {summary.out_dir}",
        highlight=False,
    )
    for cell_id in summary.failed:
        stderr.print(f"failed: {cell_id} (see the report's Failures section)", highlight=False, markup=False)
    if comparison is not None:
        sys.stdout.write(comparison.to_markdown() + "\n")
        stderr.print(comparison.summary(), highlight=False, markup=False)
    if summary.report is not None:
        stdout.print(str(summary.report), highlight=False, soft_wrap=True)
