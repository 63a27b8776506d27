"""The CIFAR ResNets of He et al. 2016, Sec. 4.2: ResNet-20 and ResNet-56.

A 3x3 stem convolution with 16 filters, then three stages of n basic blocks each with
16, 32 and 64 filters (maps 32, 16 and 8 at 32x32 input; the first block of stages two and
three has stride 2), global average pooling and a fully connected classifier: 6n + 2
layers, n = 3 for ResNet-20 and n = 9 for ResNet-56.

Shortcuts are the paper's option A (used "in all cases" on CIFAR): identity, and where the
shape changes, the input subsampled by 2 and zero-padded to the new width, so the residual
models have exactly the parameters of their plain counterparts: 269,722 (ResNet-20) and
853,018 (ResNet-56) at 10 classes, the paper's 0.27M and 0.85M (Table 6). Projection
shortcuts (option B, 1x1 convolution + BatchNorm) would add 2,752 parameters, giving
272,474 and 855,770.

Native at 32x32; global average pooling lets the same weights run on larger inputs such
as 224x224 (policy ``native``), and the stride-2 convolutions and subsampled shortcuts
agree on every size, so any input from 1x1 up is accepted.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.zoo.registry import Reference, register_model

PAPER = "Deep Residual Learning for Image Recognition (He et al., CVPR 2016; arXiv 2015), Sec. 4.2"
STAGE_WIDTHS = (16, 32, 64)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and pad the channels with zeros up to ``out_chans``.

    The zero channels are written as ``x * 0`` concatenated after ``x`` (not ``F.pad`` on the
    channel axis): the same function and no parameters, but every output channel stays tied to
    an input channel, so a dependency graph (torch-pruning) can follow the shortcut and prune
    the block's channels together. The paper pads both sides; the order of channels is
    immaterial to the network.
    """

    def __init__(self, in_chans: int, out_chans: int, stride: int) -> None:
        super().__init__()
        if out_chans % in_chans:
            raise ValueError(
                f"option-A shortcut needs out_chans ({out_chans}) to be a multiple of in_chans ({in_chans})"
            )
        self.stride = stride
        self.copies = out_chans // in_chans

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return torch.cat([x] + [x.mul(0)] * (self.copies - 1), dim=1)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers around an option-A shortcut."""

    def __init__(self, in_chans: int, out_chans: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chans)
        self.conv2 = nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chans)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_chans != out_chans:
            self.shortcut: nn.Module = ZeroPadShortcut(in_chans, out_chans, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR: 16-32-64 stages of ``blocks_per_stage`` basic blocks."""

    def __init__(self, blocks_per_stage: int, *, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, STAGE_WIDTHS[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        stages: list[nn.Module] = []
        width = STAGE_WIDTHS[0]
        for index, stage_width in enumerate(STAGE_WIDTHS):
            blocks = [BasicBlock(width, stage_width, stride=1 if index == 0 else 2)]
            blocks += [BasicBlock(stage_width, stage_width) for _ in range(blocks_per_stage - 1)]
            stages.append(nn.Sequential(*blocks))
            width = stage_width
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)  # He et al. 2015 ("MSRA") initialization

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _spec(params: int, paper_figure: str) -> dict:
    """The metadata both depths share."""
    return dict(
        family="resnet",
        year=2015,
        paper=PAPER,
        native_input_size=32,
        min_input_size=1,
        small_input="native",
        small_input_note="designed for 32x32 inputs; global average pooling runs larger ones unchanged",
        classifier=("fc",),
        references=(
            Reference(
                params=params,
                gmacs=None,
                num_classes=10,
                input_size=32,
                source=f"He et al. 2016, Table 6 ({paper_figure}; exact count of the option-A design)",
            ),
        ),
    )


@register_model(**_spec(269_722, "0.27M"))
def resnet20(*, num_classes: int = 10, in_chans: int = 3, input_size: int = 32) -> nn.Module:
    """ResNet-20 (n = 3)."""
    del input_size  # global average pooling: the weights do not depend on the input size
    return CifarResNet(3, num_classes=num_classes, in_chans=in_chans)


@register_model(**_spec(853_018, "0.85M"))
def resnet56(*, num_classes: int = 10, in_chans: int = 3, input_size: int = 32) -> nn.Module:
    """ResNet-56 (n = 9)."""
    del input_size  # global average pooling: the weights do not depend on the input size
    return CifarResNet(9, num_classes=num_classes, in_chans=in_chans)
