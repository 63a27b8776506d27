"""Small models for the compress tests: each exercises one structure pruning or int8 must handle;
and a fake device for latency-aware pruning."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn


class GroupedNet(nn.Module):
    """A ResNeXt-style bottleneck in miniature: 1x1, grouped 3x3 (4 groups), 1x1, classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 24, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(24)
        self.head = nn.Linear(24, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class AuxNet(nn.Module):
    """A trunk with an auxiliary head that runs in train mode only (GoogLeNet-style)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor):
        x = F.relu(self.bn1(self.conv1(x)))
        aux = self.aux(x) if self.training else None
        out = self.fc(F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 1).flatten(1))
        return (out, aux) if self.training else out


class ChannelPadNet(nn.Module):
    """A residual block whose shortcut zero-pads channels with F.pad (an option-A shortcut)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x) + F.pad(x, (0, 0, 0, 0, 8, 8)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These tests run small tensors: one thread avoids OpenMP spin-waits on a shared 2-core box
    (measured: 14x faster there with 1 thread than with 2)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def grouped_net() -> GroupedNet:
    torch.manual_seed(0)
    return GroupedNet()


@pytest.fixture
def aux_net() -> AuxNet:
    torch.manual_seed(0)
    return AuxNet()


@pytest.fixture
def pad_net() -> ChannelPadNet:
    torch.manual_seed(0)
    return ChannelPadNet()


# -- a fake device for latency-aware pruning: latency is a formula of the layers' widths --------
# Each convolution or linear layer costs its padded output width (rounded up to ``step``) times
# its inputs and kernel size, plus a fixed overhead; the clock advances by ``tick`` seconds per
# module timed, so budgets are tested without waiting.


def _layer_cost(module: nn.Module, step: int) -> float:
    if isinstance(module, nn.Conv2d):
        padded = math.ceil(module.out_channels / step) * step
        return padded * module.in_channels * math.prod(module.kernel_size) * 1e-3
    if isinstance(module, nn.Linear):
        return math.ceil(module.out_features / step) * step * module.in_features * 1e-3
    return 0.0


class FakeDevice:
    """``timer(modules, inputs)`` and ``clock()`` of a device whose channel multiple is ``step``."""

    def __init__(
        self, step: int = 8, tick: float = 0.01, scale: float = 1.0, overhead_ms: float = 0.05, moves: bool = False
    ) -> None:
        self.step, self.tick, self.scale, self.overhead_ms = step, tick, scale, overhead_ms
        self.moves = moves  # move every module timed elsewhere (float64 stands in for a GPU)
        self.now = 0.0
        self.calls = 0
        self.modules_timed = 0

    def latency(self, model: nn.Module) -> float:
        return self.overhead_ms + sum(_layer_cost(m, self.step) for m in model.modules())

    def __call__(self, modules: Sequence[nn.Module], inputs: torch.Tensor) -> Any:
        from compress.latency_table import Timed

        self.calls += 1
        self.modules_timed += len(modules)
        self.now += self.tick * len(modules)
        if self.moves:
            for module in modules:
                module.to(torch.float64)
        ms = tuple(self.latency(m) for m in modules)
        # ``scale`` below 1: the device runs the narrowed models slower than the formula says
        speedups = tuple((r, r, r) for r in self._ratios(ms))
        return Timed(ms, speedups)

    def _ratios(self, ms: tuple[float, ...]) -> list[float]:
        return [1.0] + [ms[0] / own * self.scale for own in ms[1:]]

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_device() -> type[FakeDevice]:
    """The :class:`FakeDevice` class: ``fake_device(step=8, tick=0.01, scale=1.0)``."""
    return FakeDevice
