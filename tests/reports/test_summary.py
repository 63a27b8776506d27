"""The report's answer: the fastest variant within the accuracy budget, and accelerated rows that lost."""

from __future__ import annotations

import pytest

from bench.results.schema import make_row
from reports.summary import (
    failures_line,
    fastest_within_budget,
    float_variant,
    group_batches,
    models_without_pick,
    slower_than_eager_float,
)


def _row(model: str, variant: str, batch_size: int, p50: float | None, top1: float | None, **values) -> dict:
    precision = "int8" if "int8" in variant else "fp32"
    where = {"model": model, "variant": variant, "dataset": "digits", "input_size": "1x32x32"}
    runtime = values.pop("runtime", None)
    row = make_row(
        **where,
        device=values.pop("device", "cpu"),
        precision=values.pop("precision", precision),
        threads=2,
        batch_size=batch_size,
        latency_ms_p50=p50,
        top1=top1,
        size_mb=values.pop("size_mb", 1.0),
        **values,
    )
    if runtime is not None:  # the runtime axis (issue 13) adds this field; today's rows lack it
        row["runtime"] = runtime
    return row


@pytest.fixture
def rows() -> list[dict]:
    return [
        _row("lenet5", "baseline", 1, 1.0, 98.0),
        _row("lenet5", "baseline", 32, 10.0, 98.0),
        _row("lenet5", "pruned-50", 1, 0.6, 97.0, size_mb=0.25),  # fastest at b1 but 1 point lost
        _row("lenet5", "pruned-50", 32, 6.0, 97.0, size_mb=0.25),
        _row("lenet5", "int8", 1, 1.4, 97.6, size_mb=0.25),  # within 0.5, but slower than float at b1
        _row("lenet5", "int8", 32, 4.0, 97.6, size_mb=0.25),
        _row("lenet5", "pruned-50+int8", 32, 2.0, 96.0),
        _row("resnet20", "baseline", 1, 3.0, 99.0),
        _row("resnet20", "int8", 1, 1.0, 99.0, size_mb=0.25),
        _row("vgg11", "baseline", 1, None, None, status="failed", error="RuntimeError: out of memory"),
    ]


def test_fastest_within_the_budget_with_speedup_and_size_reduction(rows: list[dict]) -> None:
    picks = {(p.row["model"], p.row["batch_size"]): p for p in fastest_within_budget(rows, 0.5)}
    assert list(picks) == [("lenet5", 1), ("lenet5", 32), ("resnet20", 1)]
    assert picks["lenet5", 1].row["variant"] == "baseline" and picks["lenet5", 1].speedup == 1.0  # int8 is slower
    lenet_b32 = picks["lenet5", 32]
    assert lenet_b32.choice == ("int8", "int8", "eager")
    assert lenet_b32.speedup == pytest.approx(2.5) and lenet_b32.size_reduction == pytest.approx(4.0)
    assert lenet_b32.top1_delta == pytest.approx(-0.4) and not lenet_b32.by_speed_only
    assert picks["resnet20", 1].row["variant"] == "int8"
    assert models_without_pick(rows, list(picks.values())) == ["vgg11"]


def test_a_wider_budget_picks_faster_and_a_zero_budget_keeps_the_accuracy(rows: list[dict]) -> None:
    wide = {(p.row["model"], p.row["batch_size"]): p.row["variant"] for p in fastest_within_budget(rows, 2.0)}
    assert wide["lenet5", 1] == "pruned-50" and wide["lenet5", 32] == "pruned-50+int8"
    exact = {(p.row["model"], p.row["batch_size"]): p.row["variant"] for p in fastest_within_budget(rows, 0.4)}
    assert exact["lenet5", 32] == "int8"  # a drop of exactly the budget (0.4) is within it
    none = {(p.row["model"], p.row["batch_size"]): p.row["variant"] for p in fastest_within_budget(rows, 0.0)}
    assert none == {("lenet5", 1): "baseline", ("lenet5", 32): "baseline", ("resnet20", 1): "int8"}


def test_speed_only_rows_are_picked_by_speed_alone() -> None:
    rows = [_row("lenet5", "baseline", 1, 1.0, None), _row("lenet5", "pruned-50", 1, 0.5, None)]
    (pick,) = fastest_within_budget(rows, 0.5)
    assert pick.by_speed_only and pick.row["variant"] == "pruned-50" and pick.top1_delta is None


def test_runtime_and_precision_are_part_of_the_choice() -> None:
    rows = [
        _row("resnet18", "baseline", 1, 10.0, 99.0),
        _row("resnet18", "baseline", 1, 6.0, 99.0, runtime="compile"),
        _row("resnet18", "int8", 1, 2.0, 98.9, runtime="openvino"),
        _row("resnet18", "int8", 1, 1.5, 97.0, runtime="onnxruntime"),  # too inaccurate
    ]
    (pick,) = fastest_within_budget(rows, 0.5)
    assert pick.choice == ("int8", "int8", "openvino") and pick.speedup == 5.0
    assert pick.reference["variant"] == "baseline" and pick.reference["runtime"] is None  # eager: null runtime


def test_batch_sizes_are_one_line_when_the_choice_does_not_depend_on_them(rows: list[dict]) -> None:
    groups = group_batches(fastest_within_budget(rows, 2.0))
    assert [[p.row["batch_size"] for p in group] for group in groups] == [[1], [32], [1]]  # lenet5 differs
    same = [r for r in rows if r["model"] == "lenet5" and r["variant"] in ("baseline", "pruned-50")]
    assert [[p.row["batch_size"] for p in g] for g in group_batches(fastest_within_budget(same, 2.0))] == [[1, 32]]


def test_accelerated_rows_slower_than_their_eager_float_row(rows: list[dict]) -> None:
    rows += [
        _row("resnet20", "baseline", 1, 4.0, 99.0, runtime="compile"),  # compiled, slower than eager 3.0
        _row("resnet20", "baseline", 1, 2.5, 99.0, precision="bf16"),  # faster: not flagged
    ]
    found = [
        (s.row["model"], s.row["variant"], s.row.get("runtime"), s.reference["variant"])
        for s in slower_than_eager_float(rows)
    ]
    assert found == [("lenet5", "int8", None, "baseline"), ("resnet20", "baseline", "compile", "baseline")]
    assert slower_than_eager_float(rows)[0].speedup == pytest.approx(1 / 1.4)


def test_pruned_int8_meets_the_pruned_float_row() -> None:
    rows = [
        _row("m", "pruned-50", 1, 1.0, 90.0),
        _row("m", "pruned-50+int8", 1, 1.5, 90.0),
        _row("m", "baseline", 1, 3.0, 90.0),
    ]
    (slow,) = slower_than_eager_float(rows)
    assert slow.reference["variant"] == "pruned-50"


@pytest.mark.parametrize(
    "variant, twin",
    [("int8", "baseline"), ("pruned-50+int8", "pruned-50"), ("pruned-50", "pruned-50"), ("norm-gn", "norm-gn")],
)
def test_float_variant(variant: str, twin: str) -> None:
    assert float_variant(variant) == twin


def test_failures_in_one_line(rows: list[dict]) -> None:
    assert failures_line(rows) == "1 of 10 rows not ok (1 failed): vgg11 baseline cpu b1 (RuntimeError: out of memory)."
    assert failures_line(rows[:2]) == "none: all 2 rows are ok."
    many = [_row(f"m{i}", "baseline", 1, None, None, status="skipped", error="x\ny" * 60) for i in range(5)]
    line = failures_line(many)
    assert "\n" not in line and line.startswith("5 of 5 rows not ok (5 skipped): m0") and line.endswith("; and 2 more.")
