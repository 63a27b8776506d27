"""A row's latency samples: the full list (results.db) and its compact form (results.json).

results.db keeps every timed iteration (``latency_samples_ms``). results.json would grow by
megabytes with them, so it carries the 101 percentiles 0, 1, ..., 100 of the samples
(``latency_quantiles_ms``, four significant digits) beside ``iterations``. From those two a
reader rebuilds a pseudo-sample of the original size, the quantile function evaluated at
``(i + 0.5) / n`` (:func:`pseudo_samples`): it has the samples' distribution to within a
percentile step and their count, which is what a bootstrap of the median needs, so a
results.json alone can be compared. :func:`row_samples` is the one place rows' samples are
read from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

QUANTILE_STEPS = 100  # percentiles 0..100 in 1% steps: 101 values
SIGNIFICANT_DIGITS = 4


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def compact_quantiles(samples_ms: Sequence[float]) -> list[float]:
    """The percentiles 0, 1, ..., 100 of ``samples_ms`` (numpy's linear rule), rounded."""
    values = np.percentile(np.asarray(samples_ms, dtype=float), np.arange(QUANTILE_STEPS + 1))
    return [_round(float(v)) for v in values]


def pseudo_samples(quantiles_ms: Sequence[float], count: int) -> np.ndarray:
    """``count`` values whose distribution is the one ``quantiles_ms`` describe (sorted)."""
    grid = np.linspace(0.0, 1.0, len(quantiles_ms))
    positions = (np.arange(count) + 0.5) / count
    return np.interp(positions, grid, np.asarray(quantiles_ms, dtype=float))


def row_samples(row: dict[str, Any]) -> np.ndarray | None:
    """The row's latency samples (ms): the full list when stored, else rebuilt from the
    compact quantiles and ``iterations``; None for rows with neither (older files)."""
    samples = row.get("latency_samples_ms")
    if samples:
        return np.asarray(samples, dtype=float)
    quantiles = row.get("latency_quantiles_ms")
    if quantiles and len(quantiles) >= 2:
        count = int(row.get("iterations") or len(quantiles))
        return pseudo_samples(quantiles, max(count, 1))
    return None


def json_samples(row: dict[str, Any]) -> list[float] | None:
    """What results.json stores for a row: the compact quantiles (computed or passed on)."""
    samples = row.get("latency_samples_ms")
    if samples:
        return compact_quantiles(samples)
    quantiles = row.get("latency_quantiles_ms")
    return list(quantiles) if quantiles else None


def check_quantiles(values: Any) -> str | None:
    """Why ``values`` is not a valid compact form (None when it is)."""
    if not isinstance(values, list) or len(values) != QUANTILE_STEPS + 1:
        return f"expected a list of {QUANTILE_STEPS + 1} numbers"
    return _check_numbers(values, ordered=True)


def check_samples(values: Any) -> str | None:
    """Why ``values`` is not a valid list of latency samples (None when it is)."""
    if not isinstance(values, list) or not values:
        return "expected a non-empty list of numbers"
    return _check_numbers(values, ordered=False)


def _check_numbers(values: list[Any], *, ordered: bool) -> str | None:
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"item {index} is {value!r}, not a number"
        if not math.isfinite(value) or value < 0:
            return f"item {index} is {value!r}, not a finite number >= 0"
    if ordered and any(b < a for a, b in zip(values, values[1:])):
        return "percentiles must not decrease"
    return None
