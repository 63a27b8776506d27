"""The report's tables, computed from stored result rows (pandas), and their markdown.

Every number here is derived from the rows alone: nothing is re-measured. Speedups compare
a variant with its model's baseline measured on the same device and batch size (and, on
the CPU, the same thread count), so an int8 row (CPU only) meets the baseline's CPU row.
Missing values are NaN in the frames and ``-`` in the markdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from bench.results.formatting import format_cell
from bench.results.schema import Status
from compress.variants import BASELINE

Row = dict[str, Any]
MeasureKey = tuple[str, int]  # (device, batch_size): one latency measurement setting

# (field, header) of the compression table's baseline / variant ratios.
REDUCTIONS = (("params", "params reduction (x)"), ("macs", "MACs reduction (x)"), ("size_mb", "size reduction (x)"))


def ok_rows(rows: Iterable[Row]) -> list[Row]:
    return [row for row in rows if row.get("status") == Status.OK]


def _first(rows: Iterable[Row], field: str) -> Any:
    """The first non-null value of ``field``: per-variant facts (params, top-1) repeat per device."""
    return next((row[field] for row in rows if row.get(field) is not None), None)


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def _unique(values: Iterable[Any]) -> list[Any]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def measure_label(key: MeasureKey) -> str:
    device, batch_size = key
    return f"{device} b{batch_size}"


def _measure_keys(rows: Iterable[Row]) -> list[MeasureKey]:
    """The (device, batch size) settings with a latency, devices in order of appearance."""
    keys = _unique(
        (row["device"], row["batch_size"])
        for row in rows
        if row.get("latency_ms_p50") is not None and row.get("batch_size") is not None
    )
    devices = _unique(device for device, _ in keys)
    return sorted(keys, key=lambda key: (devices.index(key[0]), key[1]))


EAGER = "eager"  # the runtime of rows that do not name one (the field is null or absent)
REFERENCE_PRECISION = "fp32"


def runtime_of(row: Row) -> str:
    """The row's runtime; rows written before the runtime axis (or without it) ran eagerly."""
    return row.get("runtime") or EAGER


def is_eager_float(row: Row) -> bool:
    """True for plain PyTorch execution in fp32: the reference every speedup is measured against."""
    return runtime_of(row) == EAGER and not row.get("compiled") and row.get("precision") in (REFERENCE_PRECISION, None)


def reference_for(row: Row, baselines: Sequence[Row]) -> Row | None:
    """The row of ``baselines`` measured like ``row``: same model, data, input, device, batch (and CPU
    threads). Eager fp32 is preferred, so a compiled or int8 row is compared with plain execution.
    """
    matches = [
        base
        for base in baselines
        if all(base.get(f) == row.get(f) for f in ("model", "dataset", "input_size", "device", "batch_size"))
        and base.get("latency_ms_p50") is not None
        and not (
            row.get("device") == "cpu"
            and None not in (base.get("threads"), row.get("threads"))
            and base["threads"] != row["threads"]
        )
    ]
    eager = [base for base in matches if is_eager_float(base)]
    fp32 = [base for base in matches if base.get("precision") == REFERENCE_PRECISION]
    return (eager or fp32 or matches or [None])[0]


def speedups(rows: Iterable[Row]) -> list[Row]:
    """Measured speedup of every ok row against its baseline (baseline rows get 1.0).

    Long form, one dict per row with a matching baseline: model, variant, device,
    batch_size, threads, precision, runtime, compiled, baseline_ms, latency_ms, speedup (= baseline
    p50 / row p50).
    """
    good = ok_rows(rows)
    baselines = [row for row in good if row["variant"] == BASELINE]
    result = []
    for row in good:
        base = reference_for(row, baselines) if row.get("latency_ms_p50") else None
        if base is None:
            continue
        result.append(
            {
                "model": row["model"],
                "variant": row["variant"],
                "device": row["device"],
                "batch_size": row["batch_size"],
                "threads": row.get("threads"),
                "precision": row.get("precision"),
                "runtime": runtime_of(row),
                "compiled": row.get("compiled"),
                "baseline_ms": base["latency_ms_p50"],
                "latency_ms": row["latency_ms_p50"],
                "speedup": base["latency_ms_p50"] / row["latency_ms_p50"],
            }
        )
    return result


def _shared_input(rows: Sequence[Row]) -> str | None:
    sizes = _unique(row.get("input_size") for row in rows)
    return sizes[0] if len(sizes) == 1 else None


def model_table(rows: Iterable[Row]) -> pd.DataFrame:
    """The baselines, one line per model: size, cost, accuracy, latency p50 and throughput.

    Latency columns are per device and batch size; throughput is at each device's largest
    batch size. The input size is in the MACs header when every model shares it, else a column.
    """
    base = [row for row in ok_rows(rows) if row["variant"] == BASELINE]
    shared = _shared_input(base)
    keys = _measure_keys(base)
    largest = {device: max(b for d, b in keys if d == device) for device, _ in keys}
    macs_header = f"MACs ({shared})" if shared else "MACs"
    records = []
    for model in _unique((row["model"], row.get("input_size")) for row in base):
        mine = [row for row in base if (row["model"], row.get("input_size")) == model]
        record: dict[str, Any] = {"model": model[0]}
        if not shared:
            record["input"] = model[1]
        record.update(
            {
                "params": _first(mine, "params"),
                macs_header: _first(mine, "macs"),
                "size MB": _first(mine, "size_mb"),
                "top-1 %": _first(mine, "top1"),
                "top-5 %": _first(mine, "top5"),
            }
        )
        for key in keys:
            record[f"p50 ms {measure_label(key)}"] = _first(
                (row for row in mine if (row["device"], row["batch_size"]) == key), "latency_ms_p50"
            )
        for device, batch_size in largest.items():
            record[f"img/s {measure_label((device, batch_size))}"] = _first(
                (row for row in mine if (row["device"], row["batch_size"]) == (device, batch_size)), "throughput_ips"
            )
        records.append(record)
    columns = ["model", *([] if shared else ["input"]), "params", macs_header, "size MB", "top-1 %", "top-5 %"]
    columns += [f"p50 ms {measure_label(key)}" for key in keys]
    columns += [f"img/s {measure_label(item)}" for item in largest.items()]
    return pd.DataFrame.from_records(records, columns=columns)


def compression_table(rows: Iterable[Row], model: str) -> pd.DataFrame:
    """One line per variant of ``model`` (baseline first): accuracy, reductions and speedups.

    Reductions are baseline / variant (2.0 = half the parameters); the speedup columns are
    baseline p50 / variant p50 per device and batch size (see :func:`speedups`). With a
    latency-aware variant (``pruned-2x``) two columns sit beside the uniform ratios' rows: its
    goal and the speedup its search measured (empty for the uniform variants), so uniform and
    latency-aware pruning read side by side at the accuracy each kept.
    """
    mine = [row for row in ok_rows(rows) if row["model"] == model]
    variants = sorted(_unique(row["variant"] for row in mine), key=lambda v: v != BASELINE)
    base = [row for row in mine if row["variant"] == BASELINE]
    base_top1 = _first(base, "top1")
    gains = speedups(mine)
    keys = _measure_keys(mine)
    show_before = any(row.get("top1_before_finetune") is not None for row in mine)
    show_goal = any(row.get("prune_target") for row in mine)
    records = []
    for variant in variants:
        own = [row for row in mine if row["variant"] == variant]
        top1 = _first(own, "top1")
        record: dict[str, Any] = {
            "variant": variant,
            "top-1 %": top1,
            "Δ top-1 pp": None if top1 is None or base_top1 is None else top1 - base_top1,
        }
        if show_before:
            record["top-1 before FT %"] = _first(own, "top1_before_finetune")
        if show_goal:
            record[GOAL] = _goal_text(_first(own, "prune_target"))
            record[SEARCHED] = _first(own, "prune_speedup_measured")
        for field, header in REDUCTIONS:
            record[header] = _ratio(_first(base, field), _first(own, field))
        for key in keys:
            record[f"speedup {measure_label(key)}"] = _first(
                (g for g in gains if g["variant"] == variant and (g["device"], g["batch_size"]) == key), "speedup"
            )
        records.append(record)
    columns = ["variant", "top-1 %", "Δ top-1 pp"] + (["top-1 before FT %"] if show_before else [])
    columns += [GOAL, SEARCHED] if show_goal else []
    columns += [header for _, header in REDUCTIONS] + [f"speedup {measure_label(key)}" for key in keys]
    return pd.DataFrame.from_records(records, columns=columns)


GOAL = "speedup goal (x)"  # a latency-aware variant's --prune-target
SEARCHED = "speedup in search (x)"  # what its search measured, float model, interleaved rounds


def _goal_text(target: Any) -> Any:
    """``speedup:2`` -> 2.0 (a number, printed like the other speedups); None for uniform variants."""
    if not target:
        return None
    return float(str(target).partition(":")[2])


def unstable_table(rows: Iterable[Row]) -> pd.DataFrame:
    """Every ok row whose timing blocks disagreed (``timing_warnings``): its figures are shaky."""
    records = [
        {**_where(row), "p50 ms": row.get("latency_ms_p50"), "timing": "unstable", "why": row.get("timing_warnings")}
        for row in ok_rows(rows)
        if row.get("timing_warnings")
    ]
    return pd.DataFrame.from_records(records, columns=[*WHERE_COLUMNS, "p50 ms", "timing", "why"])


WHERE_COLUMNS = ("model", "variant", "device", "batch size")


def _where(row: Row) -> dict[str, Any]:
    """The columns that say which row a line of a listing is."""
    return dict(zip(WHERE_COLUMNS, (row.get(name) for name in ("model", "variant", "device", "batch_size"))))


def failures_table(rows: Iterable[Row]) -> pd.DataFrame:
    """Every row that is not ok (failed or skipped), with its error, so nothing is silently missing."""
    records = [
        {**_where(row), "status": row.get("status"), "error": row.get("error") or "(no message)"}
        for row in rows
        if row.get("status") != Status.OK
    ]
    return pd.DataFrame.from_records(records, columns=[*WHERE_COLUMNS, "status", "error"])


# -- markdown ----------------------------------------------------------------------------------
# pandas' DataFrame.to_markdown needs `tabulate`, which is not a dependency: a small renderer.


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub markdown table; numeric columns right-aligned, NaN as ``-``."""
    headers = [format_cell(str(column)) for column in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) for column in frame.columns]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if right else "---" for right in numeric) + " |",
    ]
    for values in frame.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(format_cell(_plain(value)) for value in values) + " |")
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so formatting does not depend on the dtype pandas chose."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
