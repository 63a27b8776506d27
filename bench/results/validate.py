"""Validation of a results.json before anything trusts its values (`bench compare`, `report`).

A file from disk may be hand-edited, truncated by another tool or written by a future
version: a NaN latency must not pass a gate, a negative one must not count as an
improvement, and a string where a number belongs must not become an internal error (exit 1,
which CI reads as "regression"). Every value is checked against the schema
(:mod:`bench.results.schema`): its type, that numbers are finite, that measured quantities
are not negative (percentages within 0..100), that the fields every row needs are there and
that ``status`` is one of :data:`~bench.results.schema.STATUSES`. The first problem found
is a :class:`BenchError` naming the file, the row and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.samples import check_quantiles, check_samples
from bench.results.schema import (
    FIELDS_BY_NAME,
    QUANTILES_FIELD,
    SAMPLES_FIELD,
    SCHEMA_VERSION,
    STATUSES,
)

REQUIRED_FIELDS: tuple[str, ...] = ("model", "variant", "status")
PERCENT_FIELDS = frozenset({"top1", "top5", "top1_before_finetune"})
# Numbers that may be negative: none of today's fields; listed here if one ever is.
SIGNED_FIELDS: frozenset[str] = frozenset()
_FIX = "regenerate it with `bench run` (or `bench report RUN_DIR`), or fix the value by hand"


def validate_payload(payload: Any, file: Path) -> None:
    """Raise a one-line BenchError for the first problem in a parsed results.json."""
    if not isinstance(payload, dict) or "rows" not in payload:
        raise BenchError(f"{file} is not a cnnbench results file", "pass a results.json written by `bench run`")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise BenchError(
            f"{file} has schema version {version!r}, this cnnbench reads version {SCHEMA_VERSION}",
            "re-run the benchmark with this version of cnnbench",
        )
    run = payload.get("run")
    if run is not None and not isinstance(run, dict):
        raise BenchError(f"{file}: 'run' is {type(run).__name__} {_short(run)}, not an object", _FIX)
    rows = payload["rows"]
    if not isinstance(rows, list):
        raise BenchError(f"{file}: 'rows' is {type(rows).__name__}, not a list", _FIX)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BenchError(f"{file}: row {index} is {type(row).__name__} {_short(row)}, not an object", _FIX)
        problem = row_problem(row)
        if problem is not None:
            name, why = problem
            raise BenchError(f"{file}: row {index} ({_row_name(row)}), field {name!r}: {why}", _FIX)


def row_problem(row: dict[str, Any]) -> tuple[str, str] | None:
    """(field, why) for the first invalid value of ``row``; None when the row is valid."""
    for name in REQUIRED_FIELDS:
        if row.get(name) is None:
            return name, "missing (every row needs model, variant and status)"
    for name, value in row.items():
        field = FIELDS_BY_NAME.get(name)
        if field is None or value is None:
            continue  # unknown fields are ignored, as a newer writer's extras
        why = _value_problem(name, field.type, value)
        if why is not None:
            return name, why
    if row["status"] not in STATUSES:
        return "status", f"{_short(row['status'])} is not one of {', '.join(STATUSES)}"
    return _agreement_problem(row)


# The latency fields that are percentiles of the samples, and which one.
PERCENTILE_FIELDS = {"latency_ms_min": 0, "latency_ms_p25": 25, "latency_ms_p50": 50, "latency_ms_p75": 75,
                     "latency_ms_p90": 90, "latency_ms_p99": 99}  # fmt: skip
_AGREEMENT = 2e-3  # relative: the compact form keeps four significant digits


def _agreement_problem(row: dict[str, Any]) -> tuple[str, str] | None:
    """A latency percentile that its own samples contradict (an edited file): the verdict would
    mix the edited figure with the unedited samples."""
    quantiles = row.get(QUANTILES_FIELD.name)
    if not quantiles:
        return None
    for name, q in PERCENTILE_FIELDS.items():
        value = row.get(name)
        if value is not None and abs(value - quantiles[q]) > _AGREEMENT * max(abs(value), 1e-9) + 1e-9:
            return name, f"{value!r} disagrees with its samples ({QUANTILES_FIELD.name}[{q}] is {quantiles[q]!r})"
    return None


def _value_problem(name: str, kind: type, value: Any) -> str | None:
    if name == SAMPLES_FIELD.name:
        return check_samples(value)
    if name == QUANTILES_FIELD.name:
        return check_quantiles(value)
    if kind is str:
        return None if isinstance(value, str) else f"expected text, got {type(value).__name__} {_short(value)}"
    if isinstance(value, bool):
        # booleans are accepted for the 0/1 flags (channels_last, compiled), nothing else
        return None if kind is int and name in ("channels_last", "compiled") else f"expected a number, got {value}"
    if not isinstance(value, (int, float)):
        return f"expected a number, got {type(value).__name__} {_short(value)}"
    if not math.isfinite(value):
        return f"{value} is not a finite number"
    if kind is int and not float(value).is_integer():
        return f"expected an integer, got {value!r}"
    if value < 0 and name not in SIGNED_FIELDS:
        return f"{value!r} is negative"
    if name in PERCENT_FIELDS and value > 100:
        return f"{value!r} is over 100 percent"
    return None


def _row_name(row: dict[str, Any]) -> str:
    parts = [row.get(name) for name in ("model", "variant", "batch_size")]
    return "/".join(_short(part, 30) if not isinstance(part, str) else part for part in parts if part is not None)


def _short(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
