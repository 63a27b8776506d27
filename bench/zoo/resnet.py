"""ResNet-18/34/50/101/152 (He et al., 2015) and ResNeXt-50 32x4d (Xie et al., 2016).

torchvision's ``ResNet`` class with its block/depth/width settings, so ImageNet parameter
counts are torchvision's exactly (ResNet v1.5: the stride sits in the bottleneck's 3x3
convolution, as in every modern ImageNet ResNet).

Small inputs run natively (policy ``native``): global average pooling lets the unchanged
ImageNet architecture run on any input size (torchvision's ``min_size`` is 1), so 32x32
images pass through the 7x7/2 stem and max-pool to a 1x1 map in the last stage. The
builders offer the CIFAR stem of the CIFAR-ResNet literature as an opt-in keyword,
``cifar_stem=True`` (a 3x3 stride-1 stem convolution and no max-pool, keeping 32x32 maps
in the first stage; 16x the MACs at 32x32); it is not the default, so the default models
are the published architectures. ``create_model`` records the keyword in
``model.bench_cfg.extra``.
"""

from __future__ import annotations

from functools import partial

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model

RESNET_PAPER = "Deep Residual Learning for Image Recognition (He et al., CVPR 2016; arXiv 2015)"
RESNEXT_PAPER = "Aggregated Residual Transformations for Deep Neural Networks (Xie et al., CVPR 2017; arXiv 2016)"
SMALL_INPUT_NOTE = (
    "global average pooling: the ImageNet architecture runs unchanged at any size "
    "(opt-in cifar_stem=True: 3x3 stride-1 stem, no max-pool)"
)


def build_resnet(
    block: type[BasicBlock | Bottleneck],
    layers: tuple[int, int, int, int],
    *,
    groups: int = 1,
    width_per_group: int = 64,
    num_classes: int,
    in_chans: int,
    input_size: int,
    cifar_stem: bool = False,
) -> nn.Module:
    """torchvision ResNet/ResNeXt; ``cifar_stem`` swaps the 7x7/2 stem and max-pool for a 3x3/1 conv."""
    del input_size  # global average pooling: the weights do not depend on the input size
    model = ResNet(block, list(layers), num_classes=num_classes, groups=groups, width_per_group=width_per_group)
    if cifar_stem:
        model.conv1 = nn.Conv2d(in_chans, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        model.maxpool = nn.Identity()
        return model
    return set_in_chans(model, "conv1", in_chans)


# name -> (family, year, paper, builder settings, weights enum, published params, published GMACs)
VARIANTS: dict[str, tuple[str, int, str, dict, str, int, float]] = {
    "resnet18": (
        "resnet",
        2015,
        RESNET_PAPER,
        dict(block=BasicBlock, layers=(2, 2, 2, 2)),
        "ResNet18_Weights.IMAGENET1K_V1",
        11_689_512,
        1.814,
    ),
    "resnet34": (
        "resnet",
        2015,
        RESNET_PAPER,
        dict(block=BasicBlock, layers=(3, 4, 6, 3)),
        "ResNet34_Weights.IMAGENET1K_V1",
        21_797_672,
        3.664,
    ),
    "resnet50": (
        "resnet",
        2015,
        RESNET_PAPER,
        dict(block=Bottleneck, layers=(3, 4, 6, 3)),
        "ResNet50_Weights.IMAGENET1K_V2",
        25_557_032,
        4.089,
    ),
    "resnet101": (
        "resnet",
        2015,
        RESNET_PAPER,
        dict(block=Bottleneck, layers=(3, 4, 23, 3)),
        "ResNet101_Weights.IMAGENET1K_V2",
        44_549_160,
        7.801,
    ),
    "resnet152": (
        "resnet",
        2015,
        RESNET_PAPER,
        dict(block=Bottleneck, layers=(3, 8, 36, 3)),
        "ResNet152_Weights.IMAGENET1K_V2",
        60_192_808,
        11.514,
    ),
    "resnext50_32x4d": (
        "resnext",
        2016,
        RESNEXT_PAPER,
        dict(block=Bottleneck, layers=(3, 4, 6, 3), groups=32, width_per_group=4),
        "ResNeXt50_32X4D_Weights.IMAGENET1K_V2",
        25_028_904,
        4.23,
    ),
}


def _register_variants() -> None:
    for name, (family, year, paper, settings, weights, params, gmacs) in VARIANTS.items():
        register_model(
            name=name,
            family=family,
            year=year,
            paper=paper,
            native_input_size=224,
            min_input_size=1,
            small_input="native",
            small_input_note=SMALL_INPUT_NOTE,
            classifier=("fc",),
            references=(torchvision_reference(weights, params=params, gmacs=gmacs),),
            torchvision_name=name,
        )(partial(build_resnet, **settings))


_register_variants()
