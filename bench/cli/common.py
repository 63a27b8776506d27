"""Helpers shared by the command modules: consoles, argument parsers, output formats.

Only the CLI prints. Tables and progress go through rich; `--format json` writes JSON to
stdout and nothing else there (progress and logs go to stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.errors import BenchError, suggest

# Piped output is not squeezed to 80 columns: tables keep one line per row in files and CI logs.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True)


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
    """``--preset``, ``--epochs``, ``--seed``, ``--cache-dir``: what keys a trained model in the cache.

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
        parser.add_argument("--epochs", type=positive_int, metavar="N", help="override the recipe's epochs")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed for weights and data order (default: 0)")
    if cache:
        parser.add_argument(
            "--cache-dir", type=Path, metavar="DIR", help="checkpoint cache (default: the user's cache directory)"
        )


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda", help="where to run (default: auto)")


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


def positive_int(text: str) -> int:
    """argparse type for counts: a positive integer, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def print_json(data: Any) -> None:
    """JSON on stdout, NaN written as null so strict parsers accept it."""
    sys.stdout.write(json.dumps(_jsonable(data), indent=2) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


Formatter = Callable[[Any], str]


def fmt_int(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def fmt_float(digits: int = 2) -> Formatter:
    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{float(value):,.{digits}f}"

    return fmt


def fmt_si(value: Any) -> str:
    """12_345_678 -> '12.35M' for params and MACs."""
    if value is None:
        return "-"
    value = float(value)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def rows_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str, Formatter]],
    *,
    title: str | None = None,
) -> Table:
    """A rich table of ``rows`` showing (field, header, formatter) ``columns``."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for _, header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(fmt(row.get(field)) for field, _, fmt in columns))
    return table
