"""VGG-11/13/16/19 with and without BatchNorm (Simonyan & Zisserman, 2014).

At 224x224 and above the models are torchvision's ``VGG`` class with its configurations
A/B/D/E, so ImageNet parameter counts are torchvision's exactly (the ``_bn`` variants are
the later BatchNorm versions torchvision ships).

Below 224 (policy ``adapt``) the classifier takes the CIFAR form used in the CIFAR-VGG
literature (Zagoruyko's cifar.torch VGG, 2015; Liu et al., "Learning Efficient
Convolutional Networks through Network Slimming", 2017): the convolutional features are
unchanged, then global average pooling to the 512 features (a 1x1 map at 32x32, so nothing
is replicated as the ImageNet head's 7x7 adaptive pool would) and a fully connected head
512 -> 512 -> 512 -> num_classes: torchvision's ImageNet head layout (ReLU and dropout after
each hidden layer) at width 512 instead of 4096. The layout keeps the last Linear at
``classifier.6`` in both forms, and the head has 0.53M parameters at 10 classes instead of
the ImageNet head's 120M, which would otherwise dominate every small-input figure. The
five 2x2 max-pools need at least 32x32 inputs.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision.models.vgg import VGG, cfgs, make_layers

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model

PAPER = (
    "Very Deep Convolutional Networks for Large-Scale Image Recognition (Simonyan & Zisserman, ICLR 2015; arXiv 2014)"
)
IMAGENET_SIZE = 224
SMALL_INPUT_NOTE = (
    "below 224: CIFAR-VGG head (global average pool to 512, then 512-512-512-classes with "
    "ReLU and dropout) in place of the 7x7x512-4096-4096-classes ImageNet head"
)


def cifar_head(num_classes: int, dropout: float = 0.5) -> nn.Sequential:
    """512 -> 512 -> 512 -> ``num_classes`` in torchvision's layout and initialization."""
    head = nn.Sequential(
        nn.Linear(512, 512),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(512, 512),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(512, num_classes),
    )
    for layer in head:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0, 0.01)
            nn.init.zeros_(layer.bias)
    return head


def build_vgg(config: str, *, batch_norm: bool, num_classes: int, in_chans: int, input_size: int) -> nn.Module:
    """torchvision VGG ``config`` (A, B, D or E); the CIFAR head below 224x224."""
    features = set_in_chans(make_layers(cfgs[config], batch_norm=batch_norm), "0", in_chans)
    if input_size >= IMAGENET_SIZE:
        return VGG(features, num_classes=num_classes)
    # VGG.__init__ always creates (and initializes) the 120M-parameter ImageNet head, which is
    # replaced right away: create it on the meta device so it costs no memory or time. The
    # already-built features stay on the CPU and get VGG's initialization as usual.
    with torch.device("meta"):
        model = VGG(features, num_classes=num_classes)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = cifar_head(num_classes)
    return model


# name -> (torchvision config, batch norm, weights enum, published params, published GMACs)
VARIANTS: dict[str, tuple[str, bool, str, int, float]] = {
    "vgg11": ("A", False, "VGG11_Weights.IMAGENET1K_V1", 132_863_336, 7.609),
    "vgg13": ("B", False, "VGG13_Weights.IMAGENET1K_V1", 133_047_848, 11.308),
    "vgg16": ("D", False, "VGG16_Weights.IMAGENET1K_V1", 138_357_544, 15.47),
    "vgg19": ("E", False, "VGG19_Weights.IMAGENET1K_V1", 143_667_240, 19.632),
    "vgg11_bn": ("A", True, "VGG11_BN_Weights.IMAGENET1K_V1", 132_868_840, 7.609),
    "vgg13_bn": ("B", True, "VGG13_BN_Weights.IMAGENET1K_V1", 133_053_736, 11.308),
    "vgg16_bn": ("D", True, "VGG16_BN_Weights.IMAGENET1K_V1", 138_365_992, 15.47),
    "vgg19_bn": ("E", True, "VGG19_BN_Weights.IMAGENET1K_V1", 143_678_248, 19.632),
}


def _register_variants() -> None:
    for name, (config, batch_norm, weights, params, gmacs) in VARIANTS.items():
        builder = partial(build_vgg, config, batch_norm=batch_norm)
        register_model(
            name=name,
            family="vgg",
            year=2014,
            paper=PAPER,
            native_input_size=IMAGENET_SIZE,
            min_input_size=32,
            small_input="adapt",
            small_input_note=SMALL_INPUT_NOTE,
            classifier=("classifier.6",),  # the last Linear in both head forms
            references=(torchvision_reference(weights, params=params, gmacs=gmacs),),
            norm="bn" if batch_norm else None,
            torchvision_name=name,
        )(builder)


_register_variants()
