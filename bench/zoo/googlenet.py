"""GoogLeNet / Inception-v1 (Szegedy et al., 2014), as torchvision's ``GoogLeNet`` class.

Built for inference-time comparison: ``aux_logits=False`` (the two auxiliary classifiers
only add training loss terms; torchvision's published weights drop them too, so the
6,624,904 parameters of torchvision's table are exactly ours at 1000 classes),
``transform_input=False`` (no ImageNet-specific input re-normalization inside the model;
the data pipeline normalizes), and ``init_weights=True``, torchvision's initialization for
training from scratch (truncated normal, std 0.01).

Small inputs run natively: the global average pooling before the classifier lets the
unchanged ImageNet architecture run on inputs from 15x15 up (torchvision's ``min_size``),
so 32x32 digits and CIFAR images need no change. BatchNorm after every convolution (the
torchvision form; the 2014 paper predates BatchNorm).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.googlenet import GoogLeNet

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model


@register_model(
    family="googlenet",
    year=2014,
    paper="Going Deeper with Convolutions (Szegedy et al., CVPR 2015; arXiv 2014)",
    native_input_size=224,
    min_input_size=15,
    small_input="native",
    small_input_note="global average pooling: the ImageNet architecture runs unchanged from 15x15 up",
    classifier=("fc",),
    references=(
        torchvision_reference(
            "GoogLeNet_Weights.IMAGENET1K_V1",
            params=6_624_904,
            gmacs=1.498,
            note="without the auxiliary classifiers, as built here",
        ),
    ),
    torchvision_name="googlenet",
)
def googlenet(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = 224) -> nn.Module:
    """torchvision GoogLeNet without auxiliary heads or input transform, stem adapted to ``in_chans``."""
    del input_size  # global average pooling: the weights do not depend on the input size
    model = GoogLeNet(num_classes=num_classes, aux_logits=False, transform_input=False, init_weights=True)
    return set_in_chans(model, "conv1.conv", in_chans)
