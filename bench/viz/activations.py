"""Feature maps: the stages to draw, captured from one forward pass, and their figures.

Which activations are a model's stages is defined once, in :mod:`bench.zoo.stages` (runs of
same-size blocks with a convolution; the stem joins the first). The figures keep the stages
whose maps are larger than 1x1 (a single pixel per channel has no picture) and at most
``MAX_STAGES`` of them, evenly spread, always the first and the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.viz.figures import PlotResult, grid_figure, save_figure
from bench.zoo.stages import recording, stage_runs

MAX_STAGES = 8
MAX_CHANNELS = 32  # feature maps drawn per stage: the most active ones
GRID_COLUMNS = 8


@dataclass(frozen=True)
class Stage:
    """A stage's last block (its dotted module name) and the (C, H, W) maps it produces."""

    name: str
    shape: tuple[int, int, int]

    @property
    def side(self) -> int:
        return min(self.shape[1:])


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s weights are (its inputs must be there too)."""
    return next(model.parameters()).device


def find_stages(model: nn.Module, example: torch.Tensor) -> list[Stage]:
    """The stages of ``model`` worth a figure (module doc), found with one forward pass of ``example``."""
    stages = [Stage(run.name, run.shape) for run in stage_runs(model, example)]
    return _bounded([s for s in stages if s.side > 1])


def _bounded(stages: list[Stage]) -> list[Stage]:
    """At most ``MAX_STAGES``, evenly spread, always keeping the first and the last."""
    if len(stages) <= MAX_STAGES:
        return stages
    step = (len(stages) - 1) / (MAX_STAGES - 1)
    return [stages[round(i * step)] for i in range(MAX_STAGES)]


def capture_stages(model: nn.Module, image: torch.Tensor, stages: list[Stage]) -> dict[str, torch.Tensor]:
    """The (C, H, W) feature maps of ``stages`` for one image (C, H, W), on the CPU."""
    modules = dict(model.named_modules())
    wanted = {stage.name: modules[stage.name] for stage in stages}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), recording(wanted, keep_tensors=True) as events:
            model(image.unsqueeze(0).to(model_device(model)))
    finally:
        model.train(was_training)
    return {name: output[0].float().cpu() for name, output in events}


def most_active_channels(maps: torch.Tensor, limit: int = MAX_CHANNELS) -> list[int]:
    """Indices of the ``limit`` channels of (C, H, W) ``maps`` with the largest mean |activation|."""
    strength = maps.abs().mean(dim=(1, 2))
    return strength.argsort(descending=True)[:limit].tolist()


def plot_feature_maps(maps: torch.Tensor, stage: Stage, *, index: int, title_note: str, path: Path) -> PlotResult:
    """One grid of the most active channels of a stage, each scaled to its own range."""
    channels = most_active_channels(maps)
    figure, axes_list = grid_figure(len(channels), columns=GRID_COLUMNS, panel=1.3)
    for axes, channel in zip(axes_list, channels):
        axes.imshow(maps[channel].numpy(), cmap="viridis")
        axes.set_title(f"ch {channel}", fontsize=7)
    c, h, w = stage.shape
    shown = f"{len(channels)} most active of {c} channels" if len(channels) < c else f"all {c} channels"
    figure.suptitle(f"stage {index}: {stage.name} ({h}x{w}; {shown}, each scaled to its range){title_note}", fontsize=9)
    return save_figure(figure, path)
