"""Report figures: PNGs drawn from stored data, or a reason when there is nothing to draw."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.results.schema import make_row
from bench.viz.evaluation_figures import best_evaluation, plot_confusion_matrix, plot_training_curves
from reports.plots import (
    pareto_front,
    plot_accuracy_vs_latency,
    plot_params_vs_macs,
    plot_speedup,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _row(model: str, variant: str, device: str, p50: float | None, **values) -> dict:
    where = {"model": model, "variant": variant, "dataset": "digits", "input_size": "1x32x32", "device": device}
    return make_row(**where, batch_size=values.pop("batch_size", 1), threads=2, latency_ms_p50=p50, **values)


def _assert_png(result, path: Path) -> None:
    assert result.path == path and result.reason == ""
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize(
    "points, front",
    [
        ([(1.0, 90.0), (2.0, 95.0), (3.0, 94.0), (0.5, 80.0)], [3, 0, 1]),  # (3, 94) is dominated by (2, 95)
        ([(1.0, 90.0), (1.0, 92.0)], [1]),  # as fast and more accurate
        ([(2.0, 90.0), (1.0, 90.0)], [1]),  # as accurate and faster
        ([], []),
    ],
)
def test_pareto_front(points: list[tuple[float, float]], front: list[int]) -> None:
    assert pareto_front(points) == front


ROWS = [
    _row("lenet5", "baseline", "cpu", 0.8, top1=98.0, params=60_000, macs=400_000),
    _row("lenet5", "pruned-50", "cpu", 0.4, top1=97.0, params=15_000, macs=100_000),
    _row("lenet5", "int8", "cpu", 0.3, top1=97.5, params=None, macs=400_000),
    _row("resnet20", "baseline", "cuda:0", 2.0, top1=99.0, params=270_000, macs=41_000_000),
    _row("resnet20", "pruned-50", "cuda:0", 1.0, batch_size=32, top1=98.0),
    _row("vgg11", "baseline", "cpu", None, status="failed", error="boom"),
]


@pytest.mark.parametrize("plot", [plot_accuracy_vs_latency, plot_params_vs_macs, plot_speedup])
def test_row_figures_are_drawn(tmp_path: Path, plot) -> None:
    path = tmp_path / "figures" / "out.png"
    _assert_png(plot(ROWS, path), path)


def test_speed_only_rows_give_reasons_instead_of_figures(tmp_path: Path) -> None:
    speed_only = [_row("lenet5", "baseline", "cpu", 0.8, params=60_000, macs=400_000)]
    result = plot_accuracy_vs_latency(speed_only, tmp_path / "a.png")
    assert result.path is None and "top-1" in result.reason
    assert plot_speedup(speed_only, tmp_path / "s.png").path is None
    assert plot_params_vs_macs([], tmp_path / "p.png").reason
    assert list(tmp_path.iterdir()) == []


def _history(start: float) -> list[dict]:
    train = [{"epoch": e, "train_loss": start / e, "train_top1": 90.0 + e} for e in range(1, 4)]
    return [{**t, "val_loss": t["train_loss"] + 0.1, "val_top1": 88.0 + t["epoch"], "lr": 0.1} for t in train]


def test_training_curves(tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    histories = {("lenet5", "baseline"): _history(1.0), ("lenet5", "pruned-50"): _history(0.8)}
    _assert_png(plot_training_curves(histories, path), path)
    result = plot_training_curves({("lenet5", "baseline"): []}, tmp_path / "none.png")
    assert result.path is None and "history" in result.reason


def _evaluation(top1: float, n_classes: int = 3) -> dict:
    confusion = [[5 if i == j else 1 for j in range(n_classes)] for i in range(n_classes)]
    names = [f"c{i}" for i in range(n_classes)]
    return {"top1": top1, "n": 7 * n_classes, "confusion": confusion, "class_names": names, "per_class": []}


def test_confusion_matrix_of_the_best_model(tmp_path: Path) -> None:
    evaluations = {
        ("lenet5", "baseline"): _evaluation(90.0),
        ("resnet20", "baseline"): _evaluation(97.0),
        ("resnet20", "int8"): _evaluation(97.0),  # a tie: the first one wins
        ("vgg11", "baseline"): {"top1": 99.0},  # no matrix stored
    }
    assert best_evaluation(evaluations)[0] == ("resnet20", "baseline")
    path = tmp_path / "cm.png"
    _assert_png(plot_confusion_matrix(evaluations, path), path)
    assert plot_confusion_matrix({("big", "baseline"): _evaluation(50.0, 100)}, path).path == path  # no labels
    result = plot_confusion_matrix({}, tmp_path / "none.png")
    assert result.path is None and "evaluation" in result.reason
