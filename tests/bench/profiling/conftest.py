"""Small models shared by the profiling tests."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import bench.zoo as zoo


class TinyNet(nn.Module):
    """Conv -> BN -> ReLU -> pool -> linear: every kind of layer the MAC count must handle."""

    INPUT_SHAPE = (3, 16, 16)
    # conv: 8 outputs x 16x16 positions x 3*3*3 taps; fc: 8 x 5
    MACS = 8 * 16 * 16 * 27 + 8 * 5

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.relu(self.bn(self.conv(x)))), 1))


@pytest.fixture
def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


@pytest.fixture
def lenet() -> nn.Module:
    torch.manual_seed(0)
    return zoo.create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


def quantize_fx(model: nn.Module, shape: tuple[int, int, int]) -> nn.Module:
    """FX static int8 quantization on random calibration data (what `compress` produces)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    example = torch.randn(2, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(model.eval(), get_default_qconfig_mapping("x86"), (example,))
        with torch.no_grad():
            prepared(example)
        return convert_fx(prepared)


@pytest.fixture(scope="module")
def int8_lenet() -> tuple[nn.Module, nn.Module]:
    """(float LeNet-5, its int8 FX-quantized copy)."""
    import copy

    torch.manual_seed(0)
    float_model = zoo.create_model("lenet5", num_classes=10, in_chans=1, input_size=32).eval()
    return float_model, quantize_fx(copy.deepcopy(float_model), (1, 32, 32))
