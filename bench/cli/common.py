"""Helpers shared by the command modules: consoles, output formats (numbers: bench.results.formatting).

Only the CLI prints. Tables and progress go through rich; `--format json` writes JSON to
stdout and nothing else there (progress and logs go to stderr). Shared flags live in
:mod:`bench.cli.args`, progress displays in :mod:`bench.cli.progress`.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.results.formatting import Formatter, fmt_float, fmt_int, fmt_si, fmt_value

__all__ = [
    "FALLBACK_NUM_CLASSES",
    "Formatter",
    "fmt_float",
    "fmt_int",
    "fmt_si",
    "fmt_value",
    "print_json",
    "rows_table",
    "stderr",
    "stdout",
]

# Piped output is not squeezed to 80 columns: tables keep one line per row in files and CI logs.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True)

# Shape-only commands (profile, list, summary) on a data set whose class count its data decides
# (imagefolder): the classifier's size barely moves speed or the counts.
FALLBACK_NUM_CLASSES = 1000


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
