"""Saliency and Grad-CAM against cases whose answer is known in closed form."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from bench.viz.activations import Stage, find_stages
from bench.viz.saliency import (
    MIN_CAM_SIDE,
    grad_cam,
    gradcam_stage,
    input_gradients,
    plot_heat_maps,
)
from bench.zoo import create_model


def test_the_gradcam_stage_is_the_deepest_wide_enough_else_the_deepest() -> None:
    stages = [Stage("a", (8, 16, 16)), Stage("b", (16, 4, 4)), Stage("c", (32, 2, 2))]
    assert gradcam_stage(stages).name == "b" and stages[1].side == MIN_CAM_SIDE
    assert gradcam_stage([Stage("x", (8, 3, 3)), Stage("y", (8, 2, 2))]).name == "y"


def test_input_gradients_of_a_linear_model_are_its_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 4))
    images = torch.randn(2, 2, 3, 3)
    classes = torch.tensor([1, 3])
    saliency = input_gradients(model, images, classes)
    weights = model[1].weight.detach().view(4, 2, 3, 3)
    expected = torch.stack([weights[1].abs().amax(dim=0), weights[3].abs().amax(dim=0)])
    assert saliency.shape == (2, 3, 3)
    torch.testing.assert_close(saliency, expected)


class _PoolThenLinear(nn.Module):
    """A 1x1 identity convolution (the stage), global average pooling, and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.head = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.head.weight.copy_(torch.tensor([[1.0], [-1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_gradcam_is_the_stage_map_scaled_to_one_for_a_positive_class_weight() -> None:
    model = _PoolThenLinear()
    images = torch.rand(3, 1, 6, 6) + 0.1
    stage = Stage("conv", (1, 6, 6))
    cam = grad_cam(model, stage, images, torch.tensor([0, 0, 0]))
    torch.testing.assert_close(cam, images[:, 0] / images[:, 0].flatten(1).amax(dim=1).view(-1, 1, 1))
    # for class 1 every pixel counts against the class: the positive part is empty
    assert grad_cam(model, stage, images, torch.tensor([1, 1, 1])).abs().max() == 0


def test_gradcam_on_a_trainable_model_leaves_its_mode_and_weights_alone() -> None:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10, in_chans=1, input_size=32).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.randn(2, 1, 32, 32)
    stage = gradcam_stage(find_stages(model, images[:1]))
    cam = grad_cam(model, stage, images, torch.tensor([0, 5]))
    assert cam.shape == (2, 32, 32) and cam.min() >= 0 and cam.max() <= 1
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # eval mode: BN stats untouched
    assert all(p.grad is None for p in model.parameters())


def test_plot_heat_maps_writes_a_png(tmp_path: Path) -> None:
    images = torch.randn(3, 1, 8, 8)
    result = plot_heat_maps(
        images,
        torch.rand(3, 8, 8),
        labels=["1", "2", "3"],
        predictions=["1", "7", "3"],
        mean=(0.3,),
        std=(0.3,),
        overlay=True,
        title="t",
        path=tmp_path / "cam.png",
    )
    assert result.path is not None and result.path.stat().st_size > 0
