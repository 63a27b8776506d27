"""Feature maps: which activations count as a model's convolutional *stages*, and capturing them.

One rule for every family, in the spirit of timm's feature pyramid (one map per stride): a
stage is a run of consecutive blocks that produce maps of the same spatial size and contain
a convolution, and its feature map is the output of the run's last block. Blocks are the
model's top-level children, with top-level ``nn.Sequential`` containers opened one level
(VGG's and LeNet's ``features``, ResNet's ``layer1``..``layer4``, DenseNet's blocks), so a
Sequential's own output is reported under its name (``layer1``). This gives LeNet-5 its C1
and C3 maps, VGG the last ReLU before each pooling, ResNet the stem and each ``layerN``,
GoogLeNet and Inception-v3 one map per resolution of their inception modules. The count
is bounded by the number of resolutions (log2 of the input side) and by ``MAX_STAGES``.

Stages whose maps are 1x1 are left out: a single pixel per channel has no picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.viz.figures import PlotResult, grid_figure, save_figure

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


def candidate_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """Top-level children, and the children of top-level Sequentials (which stay candidates too)."""
    blocks: dict[str, nn.Module] = {}
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential):
            blocks.update({f"{name}.{inner}": module for inner, module in child.named_children()})
        blocks[name] = child  # after its children: a Sequential finishes after its last child
    return blocks


def _has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s weights are (its inputs must be there too)."""
    return next(model.parameters()).device


@contextmanager
def _recording(modules: dict[str, nn.Module], *, keep_tensors: bool) -> Iterator[list[tuple[str, torch.Tensor | torch.Size]]]:
    """Record (name, 4-d output) of ``modules`` in the order they finish, during the block.

    Outputs are cloned when kept: later in-place operations (ReLU(inplace=True), ``+=``)
    must not change what was recorded. Otherwise only their shapes are kept.
    """
    events: list[tuple[str, torch.Tensor | torch.Size]] = []

    def hook(name: str):
        def record(_module: nn.Module, _inputs: object, output: object) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                events.append((name, output.detach().clone() if keep_tensors else output.shape))

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        yield events
    finally:
        for handle in handles:
            handle.remove()


def find_stages(model: nn.Module, example: torch.Tensor) -> list[Stage]:
    """The stages of ``model`` (see the module doc), found with one forward pass of ``example``."""
    blocks = candidate_blocks(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _recording(blocks, keep_tensors=False) as events:
            model(example[:1].to(model_device(model)))
    finally:
        model.train(was_training)
    stages: list[Stage] = []
    run_size: tuple[int, int] | None = None
    run_has_conv = False
    last: Stage | None = None
    for name, shape in events:
        size = (shape[2], shape[3])
        if size != run_size:
            if last is not None and run_has_conv:
                stages.append(last)
            run_size, run_has_conv = size, False
        run_has_conv = run_has_conv or _has_conv(blocks[name])
        last = Stage(name, (shape[1], shape[2], shape[3]))
    if last is not None and run_has_conv:
        stages.append(last)
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
        with torch.no_grad(), _recording(wanted, keep_tensors=True) as events:
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
