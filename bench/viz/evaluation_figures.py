"""Figures of trained models' histories and evaluations: training curves, confusion matrix.

Shared by `bench viz` (one model) and the run report (every model of a run), so both draw
them one way; the viz layer owns them because it sits below the reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.viz.figures import PlotResult, save_figure, skip_figure
from compress.variants import BASELINE

# Stored artifacts by (model, variant): see bench.results.store.HISTORY and EVALUATION.
Histories = Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]
Evaluations = Mapping[tuple[str, str], Mapping[str, Any]]


def variant_label(model: str, variant: str) -> str:
    """'resnet20' for the baseline, 'resnet20 int8' for a variant."""
    return model if variant == BASELINE else f"{model} {variant}"


def plot_training_curves(histories: Histories, path: Path) -> PlotResult:
    """Loss and accuracy per epoch (train dashed, validation solid) for every stored history."""
    usable = {key: list(history) for key, history in histories.items() if history}
    if not usable:
        return skip_figure("no training history was stored (weights loaded from the cache or a file, or a speed-only run)")
    figure = Figure(figsize=(12, 4.5))
    loss_axes, acc_axes = figure.subplots(1, 2)
    colors = [f"C{i % 10}" for i in range(len(usable))]
    for color, ((model, variant), history) in zip(colors, usable.items()):
        name = variant_label(model, variant)
        epochs = [entry.get("epoch") for entry in history]
        for axes, metric in ((loss_axes, "loss"), (acc_axes, "top1")):
            axes.plot(epochs, [e.get(f"train_{metric}") for e in history], "--", color=color, alpha=0.6)
            axes.plot(epochs, [e.get(f"val_{metric}") for e in history], "-", color=color, label=name)
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="loss (train dashed, val solid)")
    acc_axes.set(xlabel="epoch", ylabel="top-1 (%)", title="accuracy (train dashed, val solid)")
    for axes in (loss_axes, acc_axes):
        axes.grid(True, alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_axes.legend(fontsize=7, loc="lower right", ncol=1 + len(usable) // 12)
    return save_figure(figure, path)


def best_evaluation(evaluations: Evaluations) -> tuple[tuple[str, str], Mapping[str, Any]] | None:
    """The (model, variant) with the highest stored top-1 and a confusion matrix; first wins ties."""
    usable = [
        (key, data) for key, data in evaluations.items() if data.get("confusion") and data.get("top1") is not None
    ]
    return max(usable, key=lambda item: item[1]["top1"], default=None)


def plot_confusion_matrix(evaluations: Evaluations, path: Path) -> PlotResult:
    """The confusion matrix of the most accurate evaluated model, colored by row share (recall)."""
    best = best_evaluation(evaluations)
    if best is None:
        return skip_figure("no evaluation with a confusion matrix was stored (a speed-only run has no labels)")
    (model, variant), data = best
    matrix = [list(map(int, line)) for line in data["confusion"]]
    n = len(matrix)
    names = list(data.get("class_names") or range(n))
    shares = [[count / max(1, sum(line)) for count in line] for line in matrix]
    size = min(12.0, 3.0 + 0.45 * n)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class")
    if n <= 20:
        for i, line in enumerate(matrix):
            for j, count in enumerate(line):
                color = "white" if shares[i][j] > 0.5 else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    if n <= 40:
        axes.set_xticks(range(n), [str(c) for c in names], rotation=90, fontsize=7)
        axes.set_yticks(range(n), [str(c) for c in names], fontsize=7)
    title = f"{variant_label(model, variant)}: top-1 {data['top1']:.2f}% on {data.get('n', '?')} test images"
    axes.set(xlabel="predicted", ylabel="true", title=title)
    return save_figure(figure, path)
