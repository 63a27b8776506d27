"""Small models for the compress tests: each exercises one structure pruning or int8 must handle."""

from __future__ import annotations

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
