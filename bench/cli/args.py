"""The flags several commands share, declared once and checked the same way everywhere.

A command adds a group with one call (``add_data_args(parser)``, ``add_compression_args(parser,
prune="0.5", quantize="int8")``, ...) and validates it with the matching ``check_*``/``parse_*``
function, so ``--threads 0`` or ``--importance magic`` is refused alike by every command that
takes it. Counts are positive integers checked by argparse (:class:`PositiveInt`), with one
message: ``--threads must be positive, got 0``. Settings that need the models or the data set
(``--weights``, ``--freeze``, ``--norm``, ``--dropout``) are checked by :func:`check_study_args`
for every model before any is trained.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError, suggest


def integer(text: str) -> int:
    """argparse type: an integer, else a one-line usage error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


class PositiveInt(argparse.Action):
    """Stores a positive integer; anything else is ``FLAG must be positive, got N`` (exit 2)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        if values < 1:
            parser.error(f"{option} must be positive, got {values}")
        setattr(namespace, self.dest, values)


def add_positive(parser: Any, flag: str, **kwargs: Any) -> None:
    """``flag`` taking a positive count (``parser`` may be an argument group)."""
    parser.add_argument(flag, type=integer, action=PositiveInt, metavar=kwargs.pop("metavar", "N"), **kwargs)


def parse_int_list(text: str, *, what: str, example: str) -> list[int]:
    """'1,32' -> [1, 32]; anything else is a one-line BenchError."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise BenchError(f"bad {what} {part!r} in {text!r}", f"pass positive integers like {example}") from None
        if value < 1:
            raise BenchError(f"{what} must be positive, got {value}", f"pass positive integers like {example}")
        if value not in values:
            values.append(value)
    return values


def parse_batch_sizes(text: str) -> list[int]:
    return parse_int_list(text, what="batch size", example="--batch-sizes 1,32")


def add_format_arg(parser: argparse.ArgumentParser, choices: Sequence[str] = ("table", "json")) -> None:
    parser.add_argument("--format", choices=list(choices), default=choices[0], help="output format")


def add_dataset_arg(parser: argparse.ArgumentParser, default: str | None = "digits") -> None:
    parser.add_argument("--dataset", default=default, metavar="NAME", help=f"data set (default: {default})")


def add_data_args(parser: argparse.ArgumentParser, default: str | None = "digits") -> None:
    """``--dataset``, ``--data-dir`` and ``--download``: where every data-reading command finds its images."""
    add_dataset_arg(parser, default)
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="where a file-based data set lives")
    parser.add_argument(
        "--download", action="store_true", help="download a missing torchvision data set (or pretrained weights)"
    )


def add_training_args(parser: argparse.ArgumentParser, *, epochs: bool = True, cache: bool = True) -> None:
    """``--preset``, ``--epochs``, ``--seed``, ``--cache-dir``, ``--damaged-cache``: what keys a trained
    model in the cache, and what a damaged cached one leads to.

    `bench tune` passes ``epochs=False`` (its grid may vary them) and ``cache=False`` (trials are not cached).
    """
    from bench.training.recipes import PRESETS

    def preset(text: str) -> str:
        if text not in PRESETS:
            raise argparse.ArgumentTypeError(
                f"unknown preset {text!r}{suggest(text, PRESETS)}; use {', '.join(PRESETS)}"
            )
        return text

    parser.add_argument(
        "--preset",
        default="quick",
        type=preset,
        metavar="|".join(PRESETS),
        help="training recipe preset (default: quick)",
    )
    if epochs:
        add_positive(parser, "--epochs", help="override the recipe's epochs")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed for weights and data order (default: 0)")
    if cache:
        from bench.training.requests import ON_DAMAGED

        parser.add_argument(
            "--cache-dir", type=Path, metavar="DIR", help="checkpoint cache (default: the user's cache directory)"
        )
        parser.add_argument(
            "--damaged-cache",
            choices=ON_DAMAGED,
            default=ON_DAMAGED[0],
            help="a cached model whose tensors fail their digest (or have none): train it again, reported "
            "on stderr (retrain, default), or stop with exit 2 (stop)",
        )


def cache_dir_of(args: argparse.Namespace) -> Path:
    """The checkpoint cache a command writes to (``--cache-dir`` or the default), checked writable now."""
    from bench.training.checkpoint import default_cache_dir
    from bench.writable import check_writable_dir

    if args.cache_dir is not None:
        return check_writable_dir(args.cache_dir, "--cache-dir")
    return check_writable_dir(default_cache_dir(), "the checkpoint cache (set it with --cache-dir)")


def add_augment_args(parser: argparse.ArgumentParser) -> None:
    """``--augment none|light|imagenet`` and ``--hflip/--no-hflip`` (`bench train` and `bench run`):
    the training augmentation, when not the one the data set chooses."""
    from bench.data.transforms import AUGMENTS

    parser.add_argument(
        "--augment",
        choices=AUGMENTS,
        metavar="|".join(AUGMENTS),
        help="training augmentation: none, light (pad-and-crop translation: the 32x32 sets and folders of "
        "small images) or imagenet (random resized crops: folders of large images) (default: the data's)",
    )
    parser.add_argument(
        "--hflip",
        action=argparse.BooleanOptionalAction,
        help="add (--hflip) or drop (--no-hflip) random horizontal flips (default: the augmentation's)",
    )


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda", help="where to run (default: auto)")


def add_threads_arg(parser: argparse.ArgumentParser) -> None:
    add_positive(parser, "--threads", help="CPU threads (default: torch's)")


def add_input_size_arg(parser: argparse.ArgumentParser) -> None:
    add_positive(parser, "--input-size", help="spatial input size (default: the data set's)")


def add_batch_sizes_arg(parser: argparse.ArgumentParser, default: str) -> None:
    """``--batch-sizes LIST``, parsed by :func:`parse_batch_sizes`."""
    parser.add_argument(
        "--batch-sizes", default=default, metavar="LIST", help=f"timed batch sizes, e.g. 1,32 (default: {default})"
    )


def add_compression_args(parser: argparse.ArgumentParser, *, prune: str, quantize: str) -> None:
    """``--prune``, ``--prune-target``, ``--prune-budget``, ``--importance``, ``--quantize``,
    ``--engine`` (`bench profile` and `bench run`)."""
    from compress.importance import DEFAULT_CRITERION
    from compress.latency_prune import DEFAULT_BUDGET_S
    from compress.quantization import DEFAULT_ENGINE

    parser.add_argument(
        "--prune", default=prune, metavar="RATIOS", help=f"channel ratios like 0.3,0.5, or none (default: {prune})"
    )
    parser.add_argument(
        "--prune-target",
        default="none",
        metavar="speedup:X|latency:F",
        help="latency-aware pruning to a goal measured on this device: speedup:2 (twice as fast as the "
        "baseline) or latency:0.5 (half its latency), comma-separated; variant pruned-2x (default: none)",
    )
    parser.add_argument(
        "--prune-budget",
        type=float,
        default=DEFAULT_BUDGET_S,
        metavar="S",
        help="seconds the latency table of a --prune-target search may take per model and device; cut short, "
        f"it measures fewer widths per group and says so (default: {DEFAULT_BUDGET_S:g})",
    )
    parser.add_argument(
        "--importance",
        default=DEFAULT_CRITERION,
        metavar="NAME",
        help=f"pruning criterion (default: {DEFAULT_CRITERION})",
    )
    parser.add_argument(
        "--quantize",
        default=quantize,
        metavar="int8|none",
        help=f"int8 post-training quantization (default: {quantize})",
    )
    parser.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        metavar="NAME",
        help=f"quantized engine: x86, fbgemm, qnnpack, onednn (default: {DEFAULT_ENGINE})",
    )


def add_runtime_arg(parser: argparse.ArgumentParser) -> None:
    """``--runtime LIST`` (`bench profile` and `bench run`): an axis, like ``--batch-sizes``."""
    from bench.results.schema import DEFAULT_RUNTIME

    parser.add_argument(
        "--runtime",
        default=DEFAULT_RUNTIME,
        metavar="LIST",
        help="who executes every variant: eager, compile (torch.compile; pt2e int8), openvino (NNCF int8), "
        f"onnxruntime (QDQ int8), comma-separated; converting runtimes run on the CPU (default: {DEFAULT_RUNTIME})",
    )


def check_runtime_arg(args: argparse.Namespace) -> tuple[str, ...]:
    """The runtimes of ``--runtime``: known names whose packages are installed."""
    from compress.runtimes import parse_runtimes

    return parse_runtimes(args.runtime)


def check_compression_args(args: argparse.Namespace) -> tuple[list[float], str | None]:
    """The pruning ratios and quantization of :func:`add_compression_args`'s flags; the criterion
    is checked whatever the ratios, the engine whenever int8 is asked for."""
    from compress.importance import get_criterion
    from compress.quantization import check_engine
    from compress.variants import parse_quantize, parse_ratios

    ratios, quantize = parse_ratios(args.prune), parse_quantize(args.quantize)
    targets = prune_targets_of(args)
    check_prune_budget(args.prune_budget)
    chosen = get_criterion(args.importance)
    if targets and chosen.needs_batches:
        raise BenchError(
            f"--prune-target prunes to measured widths with a weight criterion; {chosen.name} needs batches",
            "use --importance l1 (or l2, bn-scale, lamp, fpgm, random) with --prune-target",
        )
    if quantize is not None:
        check_engine(args.engine)
    return ratios, quantize


def check_prune_budget(seconds: float) -> float:
    """``--prune-budget S``: a finite number of seconds above 0."""
    import math

    if not (math.isfinite(seconds) and seconds > 0):
        raise BenchError(
            f"--prune-budget must be a number of seconds above 0, got {seconds:g}",
            "pass e.g. --prune-budget 120 (the latency table keeps what it measured by then)",
        )
    return seconds


def prune_targets_of(args: argparse.Namespace) -> list[str]:
    """The ``--prune-target`` goals, canonical (``latency:0.5`` -> ``speedup:2``); bad ones are BenchErrors."""
    from compress.prune_target import parse_targets

    return [f"speedup:{target.speedup:g}" for target in parse_targets(args.prune_target)]


def add_timing_args(parser: argparse.ArgumentParser) -> None:
    """The latency-measurement knobs shared by `bench profile` and `bench run`."""
    from bench.profiling.timing import TimingConfig

    d = TimingConfig()
    timing = parser.add_argument_group("timing")
    timing.add_argument(
        "--warmup",
        type=int,
        default=d.warmup_iters,
        metavar="N",
        help=f"warm-up iterations, at least ({d.warmup_iters})",
    )
    timing.add_argument(
        "--warmup-time", type=float, default=d.warmup_s, metavar="S", help=f"warm-up seconds, at least ({d.warmup_s})"
    )
    timing.add_argument(
        "--min-iters", type=int, default=d.min_iters, metavar="N", help=f"timed iterations, at least ({d.min_iters})"
    )
    timing.add_argument(
        "--min-time", type=float, default=d.min_time_s, metavar="S", help=f"timed seconds, at least ({d.min_time_s})"
    )
    timing.add_argument(
        "--max-time", type=float, default=d.max_time_s, metavar="S", help=f"timed seconds, at most ({d.max_time_s:g})"
    )


def timing_from_args(args: argparse.Namespace) -> Any:
    """The TimingConfig of the flags added by :func:`add_timing_args` (validated there)."""
    from bench.profiling.timing import TimingConfig

    return TimingConfig(
        warmup_iters=args.warmup,
        warmup_s=args.warmup_time,
        min_iters=args.min_iters,
        min_time_s=args.min_time,
        max_time_s=args.max_time,
    )


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


def check_weights_file(weights: str | None) -> None:
    """Read a ``--weights PATH`` file now: a missing, refused or garbage file is exit 2 before any
    data is read or model trained (it is read again where it is used)."""
    from bench.training.weights import PRETRAINED, read_state_dict

    if weights is not None and weights != PRETRAINED:
        read_state_dict(weights)


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
