"""Stages and feature maps: one rule across families, bounded, captured without side effects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from bench.viz.activations import (
    MAX_CHANNELS,
    MAX_STAGES,
    Stage,
    capture_stages,
    find_stages,
    most_active_channels,
    plot_feature_maps,
)
from bench.viz.saliency import gradcam_stage
from bench.zoo import create_model
from bench.profiling.catalog import DataInput, blank_model

DIGITS = DataInput(in_chans=1, image_size=32, num_classes=10)


def stages_of(model: nn.Module) -> list[Stage]:
    return find_stages(model, torch.randn(1, *model.bench_cfg.input_size))


def test_lenet5_stages_are_c1_and_c3_and_c5_is_left_out_at_1x1() -> None:
    stages = stages_of(create_model("lenet5", num_classes=10, in_chans=1, input_size=32))
    assert stages == [Stage("features.1", (6, 28, 28)), Stage("features.4", (16, 10, 10))]
    assert gradcam_stage(stages).name == "features.4"


def test_a_resnet_stage_is_named_after_its_layer_not_its_last_block() -> None:
    stages = stages_of(create_model("resnet20", num_classes=10, in_chans=1, input_size=32))
    assert stages == [
        Stage("layer1", (16, 32, 32)),
        Stage("layer2", (32, 16, 16)),
        Stage("layer3", (64, 8, 8)),
    ]
    assert gradcam_stage(stages).name == "layer3"


@pytest.mark.parametrize(
    ("name", "expected", "cam"),
    [
        # the last ReLU before each max pool; the 1x1 output of the last pool has no conv
        ("vgg11_bn", ["features.2", "features.6", "features.13", "features.20", "features.27"], "features.20"),
        ("googlenet", ["conv1", "conv3", "inception3b", "inception4e"], "inception3b"),
        # resized to 75x75 by the data pipeline: one stage per resolution of the stem and the modules
        ("inception_v3", ["Conv2d_1a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e"], "Mixed_5d"),
    ],
)
def test_stages_of_larger_families_one_per_resolution(name: str, expected: list[str], cam: str) -> None:
    stages = stages_of(blank_model(name, DIGITS))  # shapes only: zero weights, no initialization cost
    assert [s.name for s in stages] == expected
    sides = [s.side for s in stages]
    assert sides == sorted(sides, reverse=True) and len(set(sides)) == len(sides)
    assert gradcam_stage(stages).name == cam and gradcam_stage(stages).side >= 4


def test_the_stage_count_is_bounded_keeping_the_first_and_the_last() -> None:
    layers: list[nn.Module] = []
    for _ in range(9):  # 512 -> 256 -> ... -> 1: nine resolutions with a convolution above 1x1
        layers += [nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2)]
    model = nn.Sequential(*layers)
    stages = find_stages(model, torch.randn(1, 1, 512, 512))
    assert len(stages) == MAX_STAGES
    assert stages[0] == Stage("0", (1, 512, 512)) and stages[-1] == Stage("16", (1, 2, 2))


def test_a_model_without_convolutions_has_no_stage_and_no_gradcam_layer() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    assert find_stages(model, torch.randn(1, 1, 4, 4)) == []
    assert gradcam_stage([]) is None


class _InPlaceAfterStage(nn.Module):
    """A stage (``conv``) whose output the parent's forward then changes in place."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y.relu_()
        return self.pool(y).flatten(1)


def test_captured_maps_are_the_stage_outputs_untouched_by_later_in_place_ops() -> None:
    torch.manual_seed(0)
    model = _InPlaceAfterStage().train()
    image = torch.randn(1, 8, 8)
    stages = find_stages(model, image.unsqueeze(0))
    assert stages == [Stage("conv", (4, 8, 8))]
    maps = capture_stages(model, image, stages)
    assert torch.equal(maps["conv"], model.conv(image.unsqueeze(0))[0].detach())
    assert (maps["conv"] < 0).any()  # the in-place ReLU did not reach the copy
    assert model.training  # the mode is restored


def test_most_active_channels_rank_by_mean_absolute_activation() -> None:
    maps = torch.zeros(40, 2, 2)
    maps[7] = -3.0
    maps[2] = 2.0
    maps[30] = 1.0
    assert most_active_channels(maps)[:3] == [7, 2, 30]
    assert len(most_active_channels(maps)) == MAX_CHANNELS


def test_plot_feature_maps_writes_a_png(tmp_path: Path) -> None:
    stage = Stage("features.4", (16, 10, 10))
    result = plot_feature_maps(torch.randn(16, 10, 10), stage, index=2, title_note="", path=tmp_path / "maps.png")
    assert result.path == tmp_path / "maps.png"
    assert (tmp_path / "maps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
