"""Network In Network (Lin, Chen & Yan, ICLR 2014).

An mlpconv block is a spatial convolution followed by two 1x1 convolutions (the paper's
"cccp" layers), each with ReLU. The paper's classifier is its last 1x1 convolution, which
outputs one map per class, followed by global average pooling: no fully connected layer.
Pooling uses ``ceil_mode`` as Caffe, in which the released models were defined, does.

At 224 and above (native 224): the NIN-ImageNet model the authors released in the Caffe
model zoo: mlpconv blocks 96/256/384/1024 with 11x11 stride 4, 5x5, 3x3 and 3x3
convolutions, 3x3/2 max-pooling after the first three blocks, dropout 0.5 before the last
block, whose second 1x1 convolution outputs the classes (224 -> 54 -> 27 -> 13 -> 6, then
global average pooling). 7,595,176 parameters at 1000 classes.

Below 224 (policy ``adapt``): the paper's own CIFAR-10 model (its Caffe definition
``cifar10_train_test``): blocks 192-160-96 (5x5), 192-192-192 (5x5) and
192-192-num_classes (3x3), 3x3/2 max- then average-pooling with dropout 0.5 after each of
the first two blocks, global average pooling. 966,986 parameters at 10 classes and 3
channels. It accepts inputs from 4x4 up (4 -> 2 -> 1 through the two ceil-mode pools).

Both released definitions (and d2l's NiN) put a ReLU after the class-producing 1x1
convolution, so the averaged class scores are non-negative. We leave it out: a class whose
map is never positive gets a zero score and no gradient, and on digits whole classes died
that way (training stuck at 88-89% with two classes at zero recall, or at chance with a
larger learning rate); without it the same recipe reaches 98%. It has no parameters, so the
counts are the released models'. Weights use He (fan-in) initialization rather than the
Caffe files' hand-tuned per-layer Gaussian standard deviations.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.zoo.registry import Reference, register_model

IMAGENET_SIZE = 224
SMALL_INPUT_NOTE = (
    "below 224: the paper's CIFAR-10 NiN (192-160-96 5x5, 192-192-192 5x5, "
    "192-192-classes 3x3 mlpconv blocks, global average pooling)"
)


def mlpconv(in_chans: int, widths: tuple[int, ...], kernel_size: int, **conv_args: int) -> list[nn.Module]:
    """A spatial convolution then 1x1 convolutions ("cccp"), ``widths`` wide, each with ReLU."""
    layers: list[nn.Module] = []
    for index, width in enumerate(widths):
        if index == 0:
            layers.append(nn.Conv2d(in_chans, width, kernel_size, **conv_args))
        else:
            layers.append(nn.Conv2d(in_chans, width, kernel_size=1))
        layers.append(nn.ReLU(inplace=True))
        in_chans = width
    return layers


def _pool(kind: type[nn.Module]) -> nn.Module:
    return kind(kernel_size=3, stride=2, ceil_mode=True)


class NiN(nn.Module):
    """``features``, then ``classifier`` (the last mlpconv's class-producing 1x1 convolution,
    without the released models' ReLU: see the module docstring), then global average pooling."""

    def __init__(self, features: nn.Sequential, *, feature_chans: int, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Conv2d(feature_chans, num_classes, kernel_size=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(self.classifier(self.features(x))))


def imagenet_nin(num_classes: int, in_chans: int) -> NiN:
    """The NIN-ImageNet Caffe model-zoo layers (conv1..cccp8)."""
    features = nn.Sequential(
        *mlpconv(in_chans, (96, 96, 96), 11, stride=4),
        _pool(nn.MaxPool2d),
        *mlpconv(96, (256, 256, 256), 5, padding=2),
        _pool(nn.MaxPool2d),
        *mlpconv(256, (384, 384, 384), 3, padding=1),
        _pool(nn.MaxPool2d),
        nn.Dropout(0.5),
        *mlpconv(384, (1024, 1024), 3, padding=1),
    )
    return NiN(features, feature_chans=1024, num_classes=num_classes)


def cifar_nin(num_classes: int, in_chans: int) -> NiN:
    """The paper's CIFAR-10 layers (conv1..cccp6)."""
    features = nn.Sequential(
        *mlpconv(in_chans, (192, 160, 96), 5, padding=2),
        _pool(nn.MaxPool2d),
        nn.Dropout(0.5),
        *mlpconv(96, (192, 192, 192), 5, padding=2),
        _pool(nn.AvgPool2d),
        nn.Dropout(0.5),
        *mlpconv(192, (192, 192), 3, padding=1),
    )
    return NiN(features, feature_chans=192, num_classes=num_classes)


@register_model(
    family="nin",
    year=2014,
    paper="Network In Network (Lin, Chen & Yan, ICLR 2014; arXiv 2013)",
    native_input_size=IMAGENET_SIZE,
    min_input_size=4,
    small_input="adapt",
    small_input_note=SMALL_INPUT_NOTE,
    classifier=("classifier",),
    references=(
        Reference(
            params=7_595_176,
            gmacs=None,
            num_classes=1000,
            input_size=224,
            source="NIN-ImageNet Caffe model zoo definition (layer shapes counted)",
        ),
        Reference(
            params=966_986,
            gmacs=None,
            num_classes=10,
            input_size=32,
            source="Lin et al. 2014 CIFAR-10 Caffe definition (layer shapes counted)",
        ),
    ),
    norm=None,
)
def nin(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = IMAGENET_SIZE) -> nn.Module:
    """NIN-ImageNet at 224 and above, the paper's CIFAR-10 NiN below."""
    if input_size >= IMAGENET_SIZE:
        return imagenet_nin(num_classes, in_chans)
    return cifar_nin(num_classes, in_chans)
