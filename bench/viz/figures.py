"""Drawing helpers shared by every figure: results of drawing, atomic PNGs, image grids.

Figures are :class:`matplotlib.figure.Figure` objects (never pyplot state) written through
:func:`save_figure`, so `bench viz` and `bench report` save figures one way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.atomic import atomic_write

__all__ = [
    "DPI",
    "PlotResult",
    "display_image",
    "grid_figure",
    "label_title",
    "save_figure",
    "show_image",
    "skip_figure",
]

DPI = 110
WRONG_COLOR = "tab:red"


@dataclass(frozen=True)
class PlotResult:
    """A figure written to ``path``, or ``path=None`` and why nothing was drawn."""

    path: Path | None
    reason: str = ""


def skip_figure(reason: str) -> PlotResult:
    return PlotResult(None, reason)


def save_figure(figure: Figure, path: Path) -> PlotResult:
    """Write the PNG atomically (bench.atomic): readers never see half a figure. Every figure
    of `bench viz` and `bench report` is saved here, one way."""
    path = Path(path)
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=DPI, bbox_inches="tight")
    return PlotResult(path)




def grid_figure(count: int, *, columns: int, panel: float = 1.6, extra_height: float = 0.5) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` square panels, ``columns`` per row, without ticks; unused panels hidden."""
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(panel * columns, panel * rows + extra_height))
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    axes_list = [axes for row in axes_grid for axes in row]
    for axes in axes_list:
        axes.set_xticks([])
        axes.set_yticks([])
    for axes in axes_list[count:]:
        axes.set_visible(False)
    return figure, axes_list[:count]


def display_image(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalized (C, H, W) tensor as the picture it was: HxW (grey) or HxWx3, values in [0, 1]."""
    mean_t = torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1)
    std_t = torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1)
    pixels = (image.detach().float().cpu() * std_t + mean_t).clamp(0.0, 1.0)
    if pixels.shape[0] == 1:
        return pixels[0].numpy()
    return pixels[:3].permute(1, 2, 0).numpy()


def show_image(axes: Axes, picture: np.ndarray) -> None:
    """Draw a :func:`display_image` result (grey pictures in a grey colormap)."""
    if picture.ndim == 2:
        axes.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        axes.imshow(picture)


def label_title(axes: Axes, true_name: str, predicted_name: str, extra: str = "") -> None:
    """'true 3 / pred 5' as the panel title, red when the prediction is wrong."""
    wrong = true_name != predicted_name
    axes.set_title(
        f"true {true_name}\npred {predicted_name}{extra}",
        fontsize=7,
        color=WRONG_COLOR if wrong else "black",
    )
