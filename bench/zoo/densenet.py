"""DenseNet-121 (Huang, Liu, van der Maaten & Weinberger, 2016), as torchvision's ``DenseNet``.

Growth rate 32, blocks (6, 12, 24, 16), 64 initial features, bottleneck width 4: the
torchvision configuration, so the ImageNet parameter count is torchvision's exactly.
Small inputs run natively (policy ``native``): global average pooling lets the unchanged
ImageNet architecture run from 29x29 up (torchvision's ``min_size``), so 32x32 inputs need
no change.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.densenet import DenseNet

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model


@register_model(
    family="densenet",
    year=2016,
    paper="Densely Connected Convolutional Networks (Huang et al., CVPR 2017; arXiv 2016)",
    native_input_size=224,
    min_input_size=29,
    small_input="native",
    small_input_note="global average pooling: the ImageNet architecture runs unchanged from 29x29 up",
    classifier=("classifier",),
    references=(torchvision_reference("DenseNet121_Weights.IMAGENET1K_V1", params=7_978_856, gmacs=2.834),),
    torchvision_name="densenet121",
)
def densenet121(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224) -> nn.Module:
    """torchvision DenseNet-121, stem adapted to ``in_chans``."""
    del input_size  # global average pooling: the weights do not depend on the input size
    model = DenseNet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=num_classes)
    return set_in_chans(model, "features.conv0", in_chans)
