"""Report tables: numbers derived from the rows (speedups, reductions, deltas) and their markdown."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.results.schema import make_row
from reports.tables import compression_table, failures_table, format_cell, model_table, speedups, to_markdown


def _row(model: str, variant: str, device: str, batch_size: int, p50: float, **values) -> dict:
    defaults = {"input_size": "1x32x32", "threads": 2, "precision": "int8" if "int8" in variant else "fp32"}
    where = {"model": model, "variant": variant, "dataset": "digits", "device": device, "batch_size": batch_size}
    return make_row(**where, latency_ms_p50=p50, **{**defaults, **values})


@pytest.fixture
def rows() -> list[dict]:
    base = {"params": 60_000, "macs": 400_000, "size_mb": 0.24, "top1": 98.0, "top5": 99.9}
    pruned = {"params": 15_000, "macs": 100_000, "size_mb": 0.06, "top1": 96.5, "top1_before_finetune": 40.0}
    return [
        _row("lenet5", "baseline", "cpu", 1, 0.8, throughput_ips=1250.0, **base),
        _row("lenet5", "baseline", "cpu", 32, 8.0, throughput_ips=4000.0, **base),
        _row("lenet5", "baseline", "cuda:0", 1, 0.2, throughput_ips=5000.0, **base),
        _row("lenet5", "baseline", "cuda:0", 32, 0.4, throughput_ips=80000.0, **base),
        _row("lenet5", "baseline", "cpu", 1, 0.3, threads=8, **base),  # another thread count
        _row("lenet5", "pruned-50", "cpu", 1, 0.4, **pruned),
        _row("lenet5", "pruned-50", "cuda:0", 32, 0.1, **pruned),
        _row("lenet5", "int8", "cpu", 1, 0.2, params=None, macs=400_000, size_mb=0.08, top1=97.0),
        _row("resnet20", "baseline", "cpu", 1, 3.0, params=270_000, macs=41_000_000, top1=99.0),
        _row("vgg11", "baseline", "cuda:0", 32, None, status="failed", error="CUDA out of memory"),
        _row("lenet5", "pruned-50+int8", "cpu", 32, None, status="skipped", error="no quantized engine"),
    ]


def test_model_table_lists_baselines_with_latency_per_device_and_batch(rows: list[dict]) -> None:
    table = model_table(rows).set_index("model")
    assert list(table.index) == ["lenet5", "resnet20"]  # the failed vgg11 baseline is not a result
    assert "MACs (1x32x32)" in table.columns and "input" not in table.columns
    assert table.loc["lenet5", "params"] == 60_000
    assert table.loc["lenet5", "MACs (1x32x32)"] == 400_000
    assert table.loc["lenet5", "p50 ms cpu b1"] == 0.8
    assert table.loc["lenet5", "p50 ms cpu b32"] == 8.0
    assert table.loc["lenet5", "p50 ms cuda:0 b32"] == 0.4
    assert table.loc["lenet5", "img/s cuda:0 b32"] == 80000.0  # throughput at the largest batch
    assert table.loc["lenet5", "img/s cpu b32"] == 4000.0
    assert math.isnan(table.loc["resnet20", "p50 ms cpu b32"])
    assert list(table.columns)[-2:] == ["img/s cpu b32", "img/s cuda:0 b32"]


def test_model_table_gives_an_input_column_when_sizes_differ(rows: list[dict]) -> None:
    rows.append(_row("inception_v3", "baseline", "cpu", 1, 40.0, input_size="3x75x75"))
    table = model_table(rows)
    assert "MACs" in table.columns and "input" in table.columns
    assert dict(zip(table["model"], table["input"]))["inception_v3"] == "3x75x75"


def test_compression_table_reductions_deltas_and_speedups(rows: list[dict]) -> None:
    table = compression_table(rows, "lenet5").set_index("variant")
    assert list(table.index) == ["baseline", "pruned-50", "int8"]
    assert table.loc["pruned-50", "speedup cpu b1"] == 2.0  # baseline 0.8 ms / 0.4 ms, threads 2 vs 2
    assert table.loc["pruned-50", "speedup cuda:0 b32"] == 4.0
    assert math.isnan(table.loc["pruned-50", "speedup cpu b32"])  # not measured there
    assert table.loc["int8", "speedup cpu b1"] == 4.0  # against the CPU baseline at the same threads
    assert table.loc["baseline", "speedup cpu b1"] == 1.0
    assert table.loc["pruned-50", "params reduction (x)"] == 4.0
    assert table.loc["pruned-50", "MACs reduction (x)"] == 4.0
    assert table.loc["int8", "size reduction (x)"] == pytest.approx(3.0)
    assert math.isnan(table.loc["int8", "params reduction (x)"])  # quantized params not counted
    assert table.loc["pruned-50", "Δ top-1 pp"] == pytest.approx(-1.5)
    assert table.loc["int8", "Δ top-1 pp"] == pytest.approx(-1.0)
    assert table.loc["pruned-50", "top-1 before FT %"] == 40.0
    assert math.isnan(table.loc["int8", "top-1 before FT %"])


def test_uniform_and_latency_aware_variants_sit_side_by_side(rows: list[dict]) -> None:
    searched = {"params": 20_000, "macs": 150_000, "size_mb": 0.08, "top1": 97.5, "prune_target": "speedup:2"}
    rows = rows + [_row("lenet5", "pruned-2x", "cpu", 1, 0.39, prune_speedup_measured=2.1, **searched)]
    table = compression_table(rows, "lenet5").set_index("variant")
    assert list(table.index) == ["baseline", "pruned-50", "int8", "pruned-2x"]
    assert table.loc["pruned-2x", "speedup goal (x)"] == 2.0
    assert table.loc["pruned-2x", "speedup in search (x)"] == 2.1
    assert table.loc["pruned-2x", "speedup cpu b1"] == pytest.approx(0.8 / 0.39)  # the row's own timing
    assert math.isnan(table.loc["pruned-50", "speedup goal (x)"])  # uniform: no goal
    assert table.loc["pruned-2x", "Δ top-1 pp"] == pytest.approx(-0.5)
    assert "speedup goal (x)" not in compression_table(rows[:-1], "lenet5").columns


def test_speedup_needs_the_same_cpu_thread_count() -> None:
    rows = [
        _row("lenet5", "baseline", "cpu", 1, 0.8, threads=2),
        _row("lenet5", "baseline", "cpu", 1, 0.3, threads=8),
        _row("lenet5", "int8", "cpu", 1, 0.2, threads=8),
        _row("lenet5", "int8", "cpu", 32, 1.0, threads=8),  # no baseline at batch 32
    ]
    gains = [(g["variant"], g["threads"], g["speedup"]) for g in speedups(rows)]
    assert gains == [("baseline", 2, 1.0), ("baseline", 8, 1.0), ("int8", 8, pytest.approx(1.5))]


def test_compression_table_without_top1_before_finetune_has_no_such_column(rows: list[dict]) -> None:
    table = compression_table([r for r in rows if r["variant"] != "pruned-50"], "lenet5")
    assert "top-1 before FT %" not in table.columns
    assert compression_table(rows, "no-such-model").empty


def test_failures_table_lists_every_row_that_is_not_ok(rows: list[dict]) -> None:
    table = failures_table(rows)
    columns = ["model", "variant", "device", "batch size", "status", "error"]
    assert list(table.columns) == columns
    assert table.values.tolist() == [
        ["vgg11", "baseline", "cuda:0", 32, "failed", "CUDA out of memory"],
        ["lenet5", "pruned-50+int8", "cpu", 32, "skipped", "no quantized engine"],
    ]
    assert failures_table([r for r in rows if r["status"] == "ok"]).empty


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "-"),
        (float("nan"), "-"),
        (61706, "61,706"),
        (61706.0, "61,706"),  # a count pandas made a float
        (1234.5, "1,234"),
        (97.25, "97.2"),
        (2.0, "2.00"),
        (0.0, "0.00"),
        (-0.5, "-0.50"),
        (0.01234, "0.0123"),
        (-1.5, "-1.50"),
        ("a | b\nc", "a \\| b c"),
    ],
)
def test_format_cell(value: object, text: str) -> None:
    assert format_cell(value) == text


def test_to_markdown_renders_a_pipe_table() -> None:
    frame = pd.DataFrame({"model": ["lenet5", "vgg|11"], "params": [61706, None], "p50 ms": [0.5, 12.25]})
    assert to_markdown(frame) == (
        "| model | params | p50 ms |\n| --- | ---: | ---: |\n| lenet5 | 61,706 | 0.50 |\n| vgg\\|11 | - | 12.2 |\n"
    )


def test_unstable_rows_are_listed_with_why() -> None:
    from bench.results.schema import make_row
    from reports.markdown import _results
    from reports.tables import unstable_table

    where = {"dataset": "digits", "input_size": "1x32x32", "device": "cpu", "precision": "fp32", "batch_size": 1}
    why = "unstable: the medians of 5 timing blocks differ by 40% of the median"
    rows = [
        make_row(model="lenet5", variant="baseline", latency_ms_p50=0.3, timing_warnings=why, **where),
        make_row(model="resnet20", variant="baseline", latency_ms_p50=2.0, timing_warnings="", **where),
    ]
    table = unstable_table(rows)
    assert table["model"].tolist() == ["lenet5"] and table["timing"].tolist() == ["unstable"]
    text = _results(rows)
    assert "Of the ok rows, 1 timed unstable" in text and "### Unstable timings" in text and why in text
    assert "Unstable timings" not in _results(rows[1:])
