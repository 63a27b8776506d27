"""Where a model looks: input-gradient saliency and Grad-CAM, and their figures.

Saliency (Simonyan et al., 2014) is |d score / d pixel|, the largest over the colour
channels. Grad-CAM (Selvaraju et al., 2017) weights a stage's feature maps by the mean
gradient of the class score over each map, keeps the positive part and upsamples it to
the input. Both explain the *predicted* class and need autograd, so they run on a float
model; the caller says which (int8 variants: the float model they were quantized from).

The Grad-CAM map is stretched over the whole input, as pytorch-grad-cam does. That is
exact for padded ("same") convolutions; after unpadded ones the map covers only the
centre of the input (LeNet-5's 10x10 C3 map: receptive-field centres from pixel 6.5 to
24.5 of 32), so there the heat is placed up to ~6 pixels too far out towards the edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.viz.activations import Stage, model_device
from bench.viz.figures import (
    PlotResult,
    display_image,
    grid_figure,
    label_title,
    save_figure,
    show_image,
)

MIN_CAM_SIDE = 4  # coarser maps (2x2) cannot localise anything within a digit
COLUMNS = 8


def gradcam_stage(stages: Sequence[Stage]) -> Stage | None:
    """The Grad-CAM layer: the deepest stage at least ``MIN_CAM_SIDE`` wide, else the deepest."""
    if not stages:
        return None
    wide = [stage for stage in stages if stage.side >= MIN_CAM_SIDE]
    return (wide or list(stages))[-1]


def input_gradients(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(N, H, W) saliency of ``classes`` (one per image) for ``images`` (N, C, H, W), on the CPU."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            inputs = images.to(device).clone().requires_grad_(True)
            scores = model(inputs).gather(1, classes.to(device).view(-1, 1)).sum()
            (gradient,) = torch.autograd.grad(scores, inputs)
    finally:
        model.train(was_training)
    return gradient.abs().amax(dim=1).cpu()


def grad_cam(model: nn.Module, stage: Stage, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(N, H, W) Grad-CAM maps in [0, 1] of ``classes`` at ``stage``, at the input's size, on the CPU.

    The stage's output is captured by a forward hook that hands the rest of the network a
    copy, so in-place operations downstream cannot corrupt the captured maps.
    """
    module = dict(model.named_modules())[stage.name]
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        captured.append(output)
        return output.clone()

    device = model_device(model)
    was_training = model.training
    model.eval()
    handle = module.register_forward_hook(capture)
    try:
        with torch.enable_grad():
            inputs = images.to(device).clone().requires_grad_(True)  # a graph even when weights are frozen
            scores = model(inputs).gather(1, classes.to(device).view(-1, 1)).sum()
            (gradient,) = torch.autograd.grad(scores, captured[-1])
    finally:
        handle.remove()
        model.train(was_training)
    maps = captured[-1].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp(min=1e-12).view(-1, 1, 1)
    return (cam / peak).cpu()


def plot_heat_maps(
    images: torch.Tensor,
    heat: torch.Tensor,
    *,
    labels: Sequence[str],
    predictions: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    overlay: bool,
    title: str,
    path: Path,
) -> PlotResult:
    """Pairs of rows: the test images (true/predicted labels), then their heat maps.

    ``overlay`` draws the map translucent over the image (Grad-CAM); otherwise alone
    (saliency, each scaled to its own maximum).
    """
    count = len(images)
    columns = min(COLUMNS, count)
    rows = -(-count // columns)
    figure, axes_list = grid_figure(2 * rows * columns, columns=columns, panel=1.5)
    for index in range(count):
        row, column = divmod(index, columns)
        top = axes_list[2 * row * columns + column]
        bottom = axes_list[(2 * row + 1) * columns + column]
        picture = display_image(images[index], mean, std)
        show_image(top, picture)
        label_title(top, labels[index], predictions[index])
        if overlay:
            show_image(bottom, picture)
            bottom.imshow(heat[index].numpy(), cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
        else:
            bottom.imshow(heat[index].numpy(), cmap="hot")
    for index in range(count, rows * columns):  # unused panels in the last pair of rows
        row, column = divmod(index, columns)
        axes_list[2 * row * columns + column].set_visible(False)
        axes_list[(2 * row + 1) * columns + column].set_visible(False)
    figure.suptitle(title, fontsize=9)
    return save_figure(figure, path)
