"""The results schema: the one definition of a result row's fields.

Everything that writes or reads rows (the profiler, the run store, the report, compare)
takes its field list from here. The first block is the user contract
(../shared/CONTRACT.md); the second holds cnnbench's own additions. Rows are flat dicts,
``None`` where a field was not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Field:
    """A result field: its type, meaning, who measures it, its unit and which way is better.

    ``higher_is_better`` is None for fields that are not figures of merit (names, settings,
    spreads); ``reports.thresholds`` derives its checkable metrics from it.
    """

    name: str
    type: type  # int, float or str: what the SQLite column and CSV parser expect (list: see LIST_FIELDS)
    doc: str
    measured_by: str = "caller"  # see the constants below
    unit: str = ""
    higher_is_better: bool | None = None


# Who measures a field (Field.measured_by):
CALLER = "caller"  # the run plan: names and settings, never measured
MODEL = "model"  # counted from the model itself: deterministic
TIMER = "timer"  # bench.profiling.timing's loop: noisy, backed by the row's latency samples
MEMORY = "memory"  # the allocator or the process's RSS during the timed loop
EVALUATION = "evaluation"  # the test split, on a fixed seed: deterministic
CLOCK = "wall clock"  # one wall-clock reading (no samples behind it): never gated
RUNNER = "runner"  # bookkeeping: status, times, host

CONTRACT_FIELDS: tuple[Field, ...] = (
    Field("model", str, "model name as given to the zoo"),
    Field("variant", str, "baseline, pruned-50, int8, pruned-50+int8, ..."),
    Field("dataset", str, "data set name"),
    Field("input_size", str, "CxHxW fed to the model, e.g. 1x32x32"),
    Field("num_classes", int, "classifier outputs", MODEL),
    Field("device", str, "cpu or cuda:0"),
    Field("device_name", str, "the processor's or GPU's name", RUNNER),
    Field("precision", str, "fp32, fp16, bf16 or int8"),
    Field("batch_size", int, "images per timed forward pass", unit="images"),
    Field("threads", int, "CPU threads torch used", RUNNER, unit="threads"),
    Field("params", int, "parameter count", MODEL, "parameters", False),
    Field("trainable_params", int, "parameters with requires_grad", MODEL, "parameters", False),
    Field("size_mb", float, "serialized state dict, MiB", MODEL, "MiB", False),
    Field("macs", int, "multiply-accumulates per image (convolutions and linear layers)", MODEL, "MACs", False),
    Field("flops", int, "2 x macs", MODEL, "FLOPs", False),
    Field("latency_ms_mean", float, "mean latency per batch, ms", TIMER, "ms", False),
    Field("latency_ms_p50", float, "median latency per batch, ms", TIMER, "ms", False),
    Field("latency_ms_p90", float, "90th percentile latency per batch, ms", TIMER, "ms", False),
    Field("latency_ms_p99", float, "99th percentile latency per batch, ms", TIMER, "ms", False),
    Field("latency_ms_std", float, "standard deviation of latency per batch, ms (a spread, not gated)", TIMER, "ms"),
    Field("iterations", int, "timed iterations behind the latency figures", TIMER, "iterations"),
    Field("throughput_ips", float, "images per second: batch_size / mean latency", TIMER, "images/s", True),
    Field("peak_mem_mb", float, "peak memory: CUDA allocator on GPU, process RSS on CPU, MiB", MEMORY, "MiB", False),
    Field("top1", float, "top-1 accuracy on the test split, percent", EVALUATION, "points", True),
    Field("top5", float, "top-5 accuracy on the test split, percent", EVALUATION, "points", True),
    Field("status", str, "ok, failed or skipped", RUNNER),
    Field("error", str, "the error message when status is not ok", RUNNER),
)

EXTRA_FIELDS: tuple[Field, ...] = (
    Field("family", str, "architecture family"),
    Field("weights", str, "trained, cached, pretrained, file or untrained (speed-only rows)"),
    Field("loss", float, "cross-entropy on the test split", EVALUATION, "nats", False),
    Field("top1_before_finetune", float, "pruned variants: top-1 right after pruning", EVALUATION, "points", True),
    Field("prune_ratio", float, "requested channel pruning ratio"),
    Field(
        "prune_target",
        str,
        "latency-aware variants (pruned-2x): the goal, speedup:X (latency:F is stored as speedup 1/F); its "
        "achieved speedup is prune_speedup_measured, measured, never assumed",
    ),
    Field(
        "prune_speedup_measured",
        float,
        "latency-aware variants: the float pruned model's speedup over the float baseline, timed in alternating "
        "rounds by the search (median round) at prune_search_batch on this device; the rows' own latency is what "
        "is gated",
        TIMER,
        "x",
    ),
    Field(
        "prune_widths",
        str,
        "latency-aware variants: JSON object of the channels each prunable group kept, by root layer "
        '({"conv1": 8, ...}; every group, narrowed or not)',
        MODEL,
        "channels",
    ),
    Field("prune_search_batch", int, "latency-aware variants: the batch size the search measured at", unit="images"),
    Field("importance", str, "pruning importance criterion"),
    Field(
        "quant_engine",
        str,
        "whose int8 it is: the FX engine (x86, fbgemm, qnnpack, onednn), pt2e-x86-inductor, nncf or ort-qdq",
    ),
    Field("calibration", str, "int8: what calibrated it (e.g. 512 train images, random inputs)"),
    Field(
        "float_layers",
        str,
        "int8: layers kept in float to meet --max-drop, comma-separated module names (features.3,fc); "
        "empty for full int8",
    ),
    Field("channels_last", int, "1 when run in channels_last memory format"),
    Field("compiled", int, "1 when run through torch.compile"),
    Field(
        "compile_ms",
        float,
        "compile time for this batch shape (torch.compile's first call, OpenVINO's compile_model), ms, "
        "kept apart from latency",
        CLOCK,
        "ms",
        False,
    ),
    Field(
        "convert_ms",
        float,
        "--runtime: converting the variant for its runtime (export, pt2e/NNCF/ONNX Runtime int8), ms, "
        "once per variant, kept apart from latency",
        CLOCK,
        "ms",
        False,
    ),
    Field("warmup_iters", int, "untimed warm-up iterations", TIMER, "iterations"),
    Field("unsupported_ops", str, "JSON object: operators the MAC counter skipped, with counts", MODEL),
    Field("train_seconds", float, "training (or fine-tuning) wall time, s", CLOCK, "s", False),
    Field("cell_seconds", float, "wall time of the whole cell, s", CLOCK, "s", False),
    Field("host", str, "the machine that measured the row (its host name)", RUNNER),
    Field(
        "runtime",
        str,
        "what executed the timed forward passes: eager (PyTorch), compile (torch.compile), openvino, onnxruntime",
    ),
    Field("created", str, "ISO time the row was written", RUNNER),
    Field("latency_ms_min", float, "fastest timed iteration, ms", TIMER, "ms", False),
    Field("latency_ms_p25", float, "25th percentile latency per batch, ms", TIMER, "ms", False),
    Field("latency_ms_p75", float, "75th percentile latency per batch, ms", TIMER, "ms", False),
    Field(
        "timing_warnings",
        str,
        "why the measurement is unstable (block medians disagree; see bench.profiling.timing); empty when stable",
        TIMER,
    ),
)

# Per-iteration data of a row: lists, not typed columns. results.db keeps the full samples (its
# ``samples`` table; null in results.json and empty in results.csv, which would grow by
# megabytes); every export carries the compact quantile form (bench.results.samples), from
# which a results.json alone can be compared.
SAMPLES_FIELD = Field(
    "latency_samples_ms", list, "every timed iteration's latency, ms, in measurement order (results.db only)", TIMER,
    "ms",
)  # fmt: skip
QUANTILES_FIELD = Field(
    "latency_quantiles_ms", list, "percentiles 0, 1, ..., 100 of the latency samples, ms (CSV: space-separated)",
    TIMER, "ms",
)  # fmt: skip
LIST_FIELDS: tuple[Field, ...] = (SAMPLES_FIELD, QUANTILES_FIELD)

FIELDS: tuple[Field, ...] = CONTRACT_FIELDS + EXTRA_FIELDS + LIST_FIELDS
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
FIELD_TYPES: dict[str, type] = {f.name: f.type for f in FIELDS}
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
LIST_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in LIST_FIELDS)
# The fields held in typed columns (SQLite) and as plain CSV cells: all but the lists.
COLUMN_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS if f.type is not list)

# The fields that identify a row (../shared/CONTRACT.md, "Row key"); `--resume` and
# `bench compare` match rows on these.
KEY_FIELDS: tuple[str, ...] = (
    "model",
    "variant",
    "dataset",
    "input_size",
    "device",
    "precision",
    "runtime",
    "channels_last",
    "compiled",
    "batch_size",
)

DEFAULT_RUNTIME = "eager"

# What a key field means when a row leaves it empty: rows written before the field existed
# were eager, contiguous and uncompiled, so they keep matching today's rows.
KEY_DEFAULTS: dict[str, Any] = {"runtime": DEFAULT_RUNTIME, "channels_last": 0, "compiled": 0}


class Status(str, Enum):
    """A row's ``status``. A ``str`` enum: members equal, print and serialize as their value."""

    OK = "ok"  # measured
    FAILED = "failed"  # the cell (or this batch size) raised; ``error`` says why
    SKIPPED = "skipped"  # not run, e.g. the baseline it depends on failed

    def __str__(self) -> str:
        return str(self.value)


STATUSES: tuple[str, ...] = tuple(status.value for status in Status)


def make_row(**values: Any) -> dict[str, Any]:
    """A row with every schema field, ``None`` where not given; unknown fields raise."""
    unknown = set(values) - set(FIELD_NAMES)
    if unknown:
        raise KeyError(f"not result fields: {sorted(unknown)}")
    row: dict[str, Any] = {name: None for name in FIELD_NAMES}
    row.update(values)
    if row["status"] is None:
        row["status"] = Status.OK.value
    if row["status"] not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {row['status']!r}")
    row["status"] = Status(row["status"]).value  # a plain string in every row
    return row


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The identity of a row (see :data:`KEY_FIELDS`); empty fields take :data:`KEY_DEFAULTS`."""
    return tuple(_key_value(row, k) for k in KEY_FIELDS)


def key_dict(row: dict[str, Any]) -> dict[str, Any]:
    """The key fields of a row by name, empty ones filled as in :func:`row_key`."""
    return dict(zip(KEY_FIELDS, row_key(row), strict=True))


def _key_value(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None:
        return KEY_DEFAULTS.get(name)
    if name in ("channels_last", "compiled"):
        return int(value)
    return value


def format_input_size(shape: tuple[int, ...]) -> str:
    """(1, 32, 32) -> '1x32x32'."""
    return "x".join(str(int(s)) for s in shape)
