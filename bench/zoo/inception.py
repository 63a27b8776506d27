"""Inception-v3 (Szegedy et al., 2015), as torchvision's ``Inception3`` class.

Built with ``aux_logits=False`` (the auxiliary classifier only adds a training loss term)
and ``transform_input=False`` (the data pipeline normalizes; no ImageNet-specific
re-normalization inside the model), with torchvision's from-scratch initialization.

Parameter count: torchvision's published 27,161,264 includes the ``AuxLogits`` head
(``InceptionAux(768, 1000)``: 3,326,696 parameters); the model built here has
23,834,568 at 1000 classes. MACs are unaffected: the auxiliary head does not run in eval
mode. Native input 299x299.

Small inputs are resized up to 75x75 (policy ``resize``; torchvision's ``min_size``): the
stem's valid convolutions and four stride-2 reductions leave nothing of a 32x32 input.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.inception import Inception3

from bench.zoo.adapt import set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.registry import register_model


@register_model(
    family="inception",
    year=2015,
    paper="Rethinking the Inception Architecture for Computer Vision (Szegedy et al., CVPR 2016; arXiv 2015)",
    native_input_size=299,
    min_input_size=75,
    small_input="resize",
    small_input_note="resized up to 75x75, the smallest input Inception-v3 accepts",
    classifier=("fc",),
    references=(
        torchvision_reference(
            "Inception_V3_Weights.IMAGENET1K_V1",
            params=27_161_264,
            gmacs=5.713,
            input_size=299,
            note="params include the AuxLogits head (3,326,696); built here without it: 23,834,568",
        ),
    ),
    torchvision_name="inception_v3",
)
def inception_v3(*, num_classes: int = 1000, in_chans: int = 3, input_size: int = 299) -> nn.Module:
    """torchvision Inception-v3 without the auxiliary head or input transform."""
    del input_size  # global average pooling: the weights do not depend on the input size
    model = Inception3(num_classes=num_classes, aux_logits=False, transform_input=False, init_weights=True)
    return set_in_chans(model, "Conv2d_1a_3x3.conv", in_chans)
