"""Numbers as text: the one place cnnbench decides how a value is printed.

The CLI's tables (:func:`fmt_int`, :func:`fmt_float`, :func:`fmt_si`, :func:`fmt_value`),
the report's markdown cells (:func:`format_cell`) and `bench compare`'s verdict lines
(:func:`format_value`, :func:`format_percent`, :func:`format_interval`) all format here, so
one figure reads the same everywhere. ``None`` (and NaN) is always ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Formatter = Callable[[Any], str]
MISSING = "-"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(value: Any) -> str:
    """12345 -> '12,345'."""
    return MISSING if _missing(value) else f"{int(value):,}"


def fmt_float(digits: int = 2) -> Formatter:
    """A formatter with ``digits`` decimals and thousands separators."""

    def fmt(value: Any) -> str:
        return MISSING if _missing(value) else f"{float(value):,.{digits}f}"

    return fmt


def fmt_value(value: Any) -> str:
    """A float in its shortest form (``0.001``, ``1e-05``), anything else as text."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def fmt_si(value: Any) -> str:
    """12_345_678 -> '12.35M' for params and MACs."""
    if _missing(value):
        return MISSING
    value = float(value)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def format_value(value: float | None) -> str:
    """61706.0 -> '61,706'; 0.123456 -> '0.1235': counts with separators, others to 4 digits."""
    if _missing(value):
        return MISSING
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def format_cell(value: Any) -> str:
    """A markdown table cell: integers with separators, floats to about three significant digits."""
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        magnitude = abs(value)
        if magnitude >= 1000 and value.is_integer():
            return f"{int(value):,}"  # a count that pandas turned into a float beside a NaN
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 0.1 or magnitude == 0:
            return f"{value:.2f}"
        return f"{value:.3g}"  # small latencies keep three significant digits
    text = " ".join(str(value).split())  # one line per cell
    return text.replace("|", "\\|")


def format_percent(fraction: float | None, digits: int = 1) -> str:
    """0.5 -> '+50.0%'; infinities as '+inf%'."""
    if _missing(fraction):
        return MISSING
    if math.isinf(fraction):
        return "+inf%" if fraction > 0 else "-inf%"
    return f"{fraction * 100:+.{digits}f}%"


def format_interval(low: float, high: float, level: float = 0.95) -> str:
    """(0.46, 0.55) -> '95% CI +46..+55%': a relative change's confidence interval."""

    def part(value: float) -> str:
        if math.isinf(value):
            return "+inf" if value > 0 else "-inf"
        precision = 0 if max(abs(low), abs(high)) >= 0.1 else 1
        return f"{value * 100:+.{precision}f}"

    return f"{level:.0%} CI {part(low)}..{part(high)}%"
