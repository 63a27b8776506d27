"""Report figures: PNGs drawn from stored data, or a reason when there is nothing to draw."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from bench.results.schema import make_row
from bench.viz.evaluation_figures import best_evaluation, plot_confusion_matrix, plot_training_curves
from reports.figure_style import (
    OKABE_ITO,
    Label,
    marker_for,
    model_colors,
    new_figure,
    place_labels,
    row_label,
    set_value_scale,
    tick_text,
    variant_kind,
)
from reports.plots import (
    ROW_FIGURES,
    draw_accuracy_vs_latency,
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


# -- readability: labels, legends, panels, scales, titles ------------------------------------------


SETS = [(1, ("cpu",)), (3, ("cpu",)), (23, ("cpu",)), (3, ("cpu", "cuda:0"))]


@pytest.mark.parametrize("name", sorted(ROW_FIGURES))
@pytest.mark.parametrize("models, devices", SETS)
def test_figures_are_readable(results_rows, assert_readable, name: str, models: int, devices: tuple[str, ...]) -> None:
    figure = ROW_FIGURES[name](results_rows(models, devices=devices))
    assert isinstance(figure, Figure)
    assert_readable(figure)


@pytest.mark.parametrize("models, devices", SETS)
def test_accuracy_figure_has_a_panel_per_device_and_batch_and_labels_the_front(results_rows, models, devices) -> None:
    rows = results_rows(models, devices=devices)
    figure = draw_accuracy_vs_latency(rows)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert len(panels) == 2 * len(devices)  # batch 1 and 32 on every device
    titles = [axes.get_title() for axes in panels]
    assert "cpu (Intel(R) Xeon(R) Processor, 2 threads), batch 32" in titles
    if "cuda:0" in devices:
        assert "cuda:0 (NVIDIA H200), batch 1" in titles
    assert "digits test split" in figure._suptitle.get_text() and "1x32x32" in figure._suptitle.get_text()
    for axes in panels:
        labelled = {text.get_text() for text in axes.texts}
        assert labelled, "a panel without labels"
        if models == 1:  # a sparse panel names every point
            assert labelled >= {"baseline", "int8"} or labelled >= {"baseline", "pruned-50"}
    scale = "linear" if models == 1 else "log"  # resnet20 alone spans under 10x; with lenet5 and vgg11_bn more
    assert [axes.get_xscale() for axes in panels[:2]] == [scale, scale]


def test_one_colour_per_model_and_one_shape_per_variant_kind(results_rows) -> None:
    rows = results_rows(3)
    figure = draw_accuracy_vs_latency(rows)
    axes = figure.axes[0]
    by_model: dict[str, set] = {}
    for collection, row in zip(axes.collections, [r for r in rows if (r["device"], r["batch_size"]) == ("cpu", 1)]):
        by_model.setdefault(row["model"], set()).add(tuple(collection.get_facecolor()[0]))
    assert all(len(colors) == 1 for colors in by_model.values())
    assert len({next(iter(c)) for c in by_model.values()}) == 3
    assert set(model_colors(["a", "b", "c"]).values()) <= set(OKABE_ITO)
    assert [marker_for(v) for v in ("baseline", "pruned-50", "int8", "pruned-30+int8", "norm-gn")] == [
        "o",
        "s",
        "^",
        "D",
        "P",
    ]
    assert variant_kind("pruned-2x") == "latency-pruned" and variant_kind("pruned-1.5x+int8") == "latency-pruned+int8"
    assert len({marker_for(v) for v in ("pruned-50", "pruned-2x", "pruned-50+int8", "pruned-2x+int8")}) == 4


@pytest.mark.parametrize("values, log", [([0.5, 4.9], False), ([0.5, 5.1], True), ([1.0, 1.0], False), ([], False)])
def test_latency_axis_is_logarithmic_past_a_tenfold_span(values: list[float], log: bool) -> None:
    axes = new_figure(3, 3).subplots()
    assert set_value_scale(axes, values) is log
    assert axes.get_xscale() == ("log" if log else "linear")


def test_tick_numbers_are_plain() -> None:
    assert [tick_text(v) for v in (0.5, 20, 5000, 2e6, 1e9)] == ["0.5", "20", "5K", "2M", "1G"]


def test_row_labels_name_precision_and_runtime_only_where_they_add_something() -> None:
    row = {"model": "resnet20", "variant": "int8", "precision": "int8"}
    assert row_label(row) == "resnet20 int8"
    assert row_label({**row, "runtime": "openvino"}) == "resnet20 int8 openvino"
    assert row_label({"model": "m", "variant": "baseline", "precision": "fp16", "runtime": None}) == "m fp16"
    assert row_label({"model": "m", "variant": "baseline", "precision": "fp32", "compiled": 1}, with_model=False) == (
        "baseline compiled"
    )


def test_labels_that_find_no_room_are_left_out_and_counted(results_rows) -> None:
    figure = new_figure(1.2, 1.0)
    axes = figure.subplots()
    axes.scatter([1, 2], [1, 2])
    left_out = place_labels(
        axes, [Label(1, 1, "a rather long label that cannot fit"), Label(2, 2, "b")], [(1, 1), (2, 2)]
    )
    assert [label.text for label in left_out] == ["a rather long label that cannot fit"]
    assert [text.get_text() for text in axes.texts] == ["b"]


def test_the_readability_check_catches_overlaps_and_covered_points(assert_readable) -> None:
    figure = new_figure(3, 3)
    axes = figure.subplots()
    axes.scatter([1, 2], [1, 2], label="points")
    axes.annotate("one label", (1, 1))
    axes.annotate("one label too", (1, 1))
    with pytest.raises(AssertionError, match="overlaps"):
        assert_readable(figure)
    for text in list(axes.texts):
        text.remove()
    axes.scatter([1.5], [1.5])
    figure.legend(loc="center")  # in the middle of the figure, over the point at the centre of the data
    with pytest.raises(AssertionError, match="covers a data point"):
        assert_readable(figure)


def test_a_crowded_figure_says_how_many_labels_it_left_out(results_rows, assert_readable) -> None:
    rows = [{**row, "params": 1000, "macs": 5000} for row in results_rows(23) if row["variant"] == "baseline"]
    figure = ROW_FIGURES["params_vs_macs.png"](rows)  # 23 models on one spot
    notes = [
        text.get_text() for legend in figure.legends for text in legend.get_texts() if "left out" in text.get_text()
    ]
    assert len(notes) == 1 and notes[0].endswith("labels left out: no room")
    assert len(figure.axes[0].texts) + int(notes[0].split()[0]) == 23  # every model: named, or counted
    assert_readable(figure)
