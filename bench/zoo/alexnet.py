"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) and ZFNet (Zeiler & Fergus, 2013).

``alexnet`` is torchvision's ``AlexNet`` class unchanged (the single-GPU "one weird trick"
variant with 64/192/384/256/256 filters and no LRN), so its ImageNet parameter count is
torchvision's exactly. ``zfnet`` is the same class with the feature extractor of Zeiler &
Fergus, "Visualizing and Understanding Convolutional Networks" (ECCV 2014, arXiv 2013),
Fig. 3: conv1 96@7x7 stride 2, 3x3/2 max-pool, conv2 256@5x5 stride 2, max-pool, conv3
384@3x3, conv4 384@3x3, conv5 256@3x3, max-pool, then AlexNet's 6x6 adaptive average pool
and 4096-4096-classes head with dropout. Paddings (conv1 1, first two pools 1) reproduce
the paper's 110 -> 55 -> 26 -> 13 -> 6 feature-map sizes at 224x224.

ZFNet drops the paper's local response normalization, as torchvision's AlexNet does: it
has no parameters (counts are unaffected) and Simonyan & Zisserman (VGG, 2014, Sec. 4.1)
found it does not improve ILSVRC accuracy while costing memory and time; leaving it out
also keeps the two models directly comparable.

Small inputs: both are resized up to their smallest accepted input (policy ``resize``):
63x63 for AlexNet (torchvision's ``min_size``) and 53x53 for ZFNet (the smallest size for
which its last max-pool still has a 3x3 window: 53 -> 25 -> 13 -> 5 -> 3 -> 1).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.alexnet import AlexNet

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model

ALEXNET_PAPER = (
    "ImageNet Classification with Deep Convolutional Neural Networks (Krizhevsky, Sutskever & Hinton, NeurIPS 2012)"
)
ZFNET_PAPER = "Visualizing and Understanding Convolutional Networks (Zeiler & Fergus, ECCV 2014; arXiv 2013)"


def zfnet_features(in_chans: int) -> nn.Sequential:
    """ZFNet's five convolutions and three max-pools (no LRN; see the module docstring)."""
    return nn.Sequential(
        nn.Conv2d(in_chans, 96, kernel_size=7, stride=2, padding=1),  # 224 -> 110
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # -> 55
        nn.Conv2d(96, 256, kernel_size=5, stride=2),  # -> 26
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # -> 13
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),  # -> 6
    )


class ZFNet(AlexNet):
    """AlexNet's pooling and classifier head on ZFNet's feature extractor."""

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> None:
        super().__init__(num_classes=num_classes, dropout=dropout)
        self.features = zfnet_features(in_chans)


@register_model(
    family="alexnet",
    year=2012,
    paper=ALEXNET_PAPER,
    native_input_size=224,
    min_input_size=63,
    small_input="resize",
    small_input_note="resized up to 63x63, the smallest input AlexNet's pooling accepts",
    classifier=("classifier.6",),
    references=(torchvision_reference("AlexNet_Weights.IMAGENET1K_V1", params=61_100_840, gmacs=0.714),),
    norm=None,
    torchvision_name="alexnet",
)
def alexnet(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224) -> nn.Module:
    """torchvision's AlexNet (no LRN), stem adapted to ``in_chans``."""
    del input_size  # the adaptive 6x6 pool makes the weights independent of the input size
    model = AlexNet(num_classes=num_classes)
    return set_in_chans(model, "features.0", in_chans, inherit_init=False)  # PyTorch default init


@register_model(
    family="zfnet",
    year=2013,
    paper=ZFNET_PAPER,
    native_input_size=224,
    min_input_size=53,
    small_input="resize",
    small_input_note="resized up to 53x53, the smallest input ZFNet's pooling accepts",
    classifier=("classifier.6",),
    norm=None,
)
def zfnet(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224) -> nn.Module:
    """ZFNet without LRN (see the module docstring); 62,357,608 parameters at 1000 classes."""
    del input_size  # the adaptive 6x6 pool makes the weights independent of the input size
    return ZFNet(num_classes=num_classes, in_chans=in_chans)
