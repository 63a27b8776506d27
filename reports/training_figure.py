"""The report's training figure: one small panel per model, its variants' top-1 per epoch.

`bench viz` draws one model's loss and accuracy curves (:mod:`bench.viz.evaluation_figures`);
a run trains up to every model of the zoo and its pruned variants, whose curves on shared axes
are a tangle. Here each model gets its own panel (validation solid, training dashed, one
colour per variant from the colour-blind safe palette), titled with its best validation top-1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from bench.viz.figures import PlotResult
from reports.figure_style import NEUTRAL, OKABE_ITO, new_figure
from reports.plots import Drawn, save_drawn

Histories = Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]
COLUMNS = 5  # panels per row when there are many models


def draw_training_curves(histories: Histories, *, dataset: str | None = None) -> Drawn:
    """Top-1 per epoch of every stored history, a panel per model; the reason when none was stored."""
    usable = {key: list(history) for key, history in histories.items() if history}
    if not usable:
        return "no training history was stored (weights loaded from the cache or a file, or a speed-only run)"
    models = list(dict.fromkeys(model for model, _ in usable))
    variants = list(dict.fromkeys(variant for _, variant in usable))
    colors = {variant: OKABE_ITO[index % len(OKABE_ITO)] for index, variant in enumerate(variants)}
    columns = min(COLUMNS, len(models))
    rows = math.ceil(len(models) / columns)
    figure = new_figure(2.9 * columns + 0.4, 2.3 * rows + 1.1)
    grid = figure.subplots(rows, columns, squeeze=False)
    panels = [axes for line in grid for axes in line]
    for axes in panels[len(models) :]:
        axes.set_visible(False)
    for axes, model in zip(panels, models):
        best = None
        for (owner, variant), history in usable.items():
            if owner != model:
                continue
            epochs = [entry.get("epoch") for entry in history]
            val = [entry.get("val_top1") for entry in history]
            axes.plot(epochs, [entry.get("train_top1") for entry in history], "--", color=colors[variant], alpha=0.7)
            axes.plot(epochs, val, "-", color=colors[variant])
            measured = [value for value in val if value is not None]
            if variant == variants[0] and measured:
                best = max(measured)
        axes.set_title(model + ("" if best is None else f" (best val {best:.1f}%)"), fontsize=8)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        spec = axes.get_subplotspec()
        if spec.is_first_col():
            axes.set_ylabel("top-1 (%)", fontsize=8)
        if spec.is_last_row() or panels.index(axes) + columns >= len(models):
            axes.set_xlabel("epoch", fontsize=8)
    where = f" on {dataset}" if dataset else ""
    figure.suptitle(f"Training: top-1 per epoch{where}, validation split solid, training split dashed", fontsize=10)
    keys = [Line2D([], [], color=colors[variant], label=variant) for variant in variants]
    keys += [
        Line2D([], [], color=NEUTRAL, linestyle="-", label="validation"),
        Line2D([], [], color=NEUTRAL, linestyle="--", label="training"),
    ]
    figure.legend(handles=keys, loc="outside lower center", ncols=min(len(keys), 6), fontsize=8, frameon=False)
    return figure


def plot_training_curves(histories: Histories, path: Path, *, dataset: str | None = None) -> PlotResult:
    return save_drawn(draw_training_curves(histories, dataset=dataset), path)
