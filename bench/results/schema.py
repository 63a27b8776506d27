"""The results schema: the one definition of a result row's fields.

Everything that writes or reads rows (the profiler, the run store, the report, compare)
takes its field list from here. The first block is the user contract
(../shared/CONTRACT.md); the second holds cnnbench's own additions. Rows are flat dicts,
``None`` where a field was not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Field:
    name: str
    type: type  # int, float or str: what the SQLite column and CSV parser expect
    doc: str


CONTRACT_FIELDS: tuple[Field, ...] = (
    Field("model", str, "model name as given to the zoo"),
    Field("variant", str, "baseline, pruned-50, int8, pruned-50+int8, ..."),
    Field("dataset", str, "data set name"),
    Field("input_size", str, "CxHxW fed to the model, e.g. 1x32x32"),
    Field("num_classes", int, "classifier outputs"),
    Field("device", str, "cpu or cuda:0"),
    Field("device_name", str, "the processor's or GPU's name"),
    Field("precision", str, "fp32, fp16, bf16 or int8"),
    Field("batch_size", int, "images per timed forward pass"),
    Field("threads", int, "CPU threads torch used"),
    Field("params", int, "parameter count"),
    Field("trainable_params", int, "parameters with requires_grad"),
    Field("size_mb", float, "serialized state dict, MiB"),
    Field("macs", int, "multiply-accumulates per image (convolutions and linear layers)"),
    Field("flops", int, "2 x macs"),
    Field("latency_ms_mean", float, "mean latency per batch, ms"),
    Field("latency_ms_p50", float, "median latency per batch, ms"),
    Field("latency_ms_p90", float, "90th percentile latency per batch, ms"),
    Field("latency_ms_p99", float, "99th percentile latency per batch, ms"),
    Field("latency_ms_std", float, "standard deviation of latency per batch, ms"),
    Field("iterations", int, "timed iterations behind the latency figures"),
    Field("throughput_ips", float, "images per second"),
    Field("peak_mem_mb", float, "peak memory: CUDA allocator on GPU, process RSS on CPU, MiB"),
    Field("top1", float, "top-1 accuracy on the test split, percent"),
    Field("top5", float, "top-5 accuracy on the test split, percent"),
    Field("status", str, "ok, failed or skipped"),
    Field("error", str, "the error message when status is not ok"),
)

EXTRA_FIELDS: tuple[Field, ...] = (
    Field("family", str, "architecture family"),
    Field("weights", str, "trained, cached, pretrained, file or untrained (speed-only rows)"),
    Field("loss", float, "cross-entropy on the test split"),
    Field("top1_before_finetune", float, "pruned variants: top-1 right after pruning"),
    Field("prune_ratio", float, "requested channel pruning ratio"),
    Field("importance", str, "pruning importance criterion"),
    Field("quant_engine", str, "quantized engine used for int8 (x86, fbgemm, qnnpack, onednn)"),
    Field("calibration", str, "int8: what calibrated it (e.g. 512 train images, random inputs)"),
    Field(
        "float_layers",
        str,
        "int8: layers kept in float to meet --max-drop, comma-separated module names (features.3,fc); "
        "empty for full int8",
    ),
    Field("channels_last", int, "1 when run in channels_last memory format"),
    Field("compiled", int, "1 when run through torch.compile"),
    Field("compile_ms", float, "torch.compile time (first call), ms, kept apart from latency"),
    Field("warmup_iters", int, "untimed warm-up iterations"),
    Field("unsupported_ops", str, "JSON object: operators the MAC counter skipped, with counts"),
    Field("train_seconds", float, "training (or fine-tuning) wall time, s"),
    Field("cell_seconds", float, "wall time of the whole cell, s"),
    Field("host", str, "the machine that measured the row (its host name)"),
    Field("runtime", str, "what executed the timed forward passes: eager (PyTorch eager), compile, ..."),
    Field("created", str, "ISO time the row was written"),
)

FIELDS: tuple[Field, ...] = CONTRACT_FIELDS + EXTRA_FIELDS
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
FIELD_TYPES: dict[str, type] = {f.name: f.type for f in FIELDS}

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

STATUSES = ("ok", "failed", "skipped")


def make_row(**values: Any) -> dict[str, Any]:
    """A row with every schema field, ``None`` where not given; unknown fields raise."""
    unknown = set(values) - set(FIELD_NAMES)
    if unknown:
        raise KeyError(f"not result fields: {sorted(unknown)}")
    row = {name: None for name in FIELD_NAMES}
    row.update(values)
    if row["status"] is None:
        row["status"] = "ok"
    if row["status"] not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {row['status']!r}")
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
