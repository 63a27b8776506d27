"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998).

C1 6@5x5, S2 2x2 average pooling, C3 16@5x5, S4, C5 120@5x5, F6 84, output; tanh
activations. The paper's S2/S4 carry trainable coefficients and C3 a sparse connection
table; like nearly every modern re-implementation we use plain average pooling and a full
C3, which gives the classic 61,706 parameters for 10 classes. The output layer is a
linear layer in place of the paper's Euclidean RBF units.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.zoo.registry import Reference, register_model


class LeNet5(nn.Module):
    """LeNet-5 for ``in_chans`` x 32x32 inputs (larger inputs are pooled to C5's 1x1)."""

    def __init__(self, *, num_classes: int = 10, in_chans: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 6, kernel_size=5),  # C1: 32 -> 28
            nn.Tanh(),
            nn.AvgPool2d(2),  # S2: 28 -> 14
            nn.Conv2d(6, 16, kernel_size=5),  # C3: 14 -> 10
            nn.Tanh(),
            nn.AvgPool2d(2),  # S4: 10 -> 5
            nn.Conv2d(16, 120, kernel_size=5),  # C5: 5 -> 1
            nn.Tanh(),
        )
        # Identity at 32x32; lets larger inputs reach F6 without changing any weight shape.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),  # F6
            nn.Tanh(),
            nn.Linear(84, num_classes),  # output
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


@register_model(
    family="lenet",
    year=1998,
    paper="Gradient-Based Learning Applied to Document Recognition (LeCun et al., Proc. IEEE 1998)",
    native_input_size=32,
    min_input_size=32,
    small_input="native",
    small_input_note="designed for 32x32 inputs",
    classifier=("classifier.1", "classifier.3"),
    references=(
        Reference(
            params=61_706,
            gmacs=None,
            num_classes=10,
            input_size=32,
            in_chans=1,
            source="LeCun et al. 1998 with full C3 and linear output (the common modern form)",
        ),
    ),
    norm=None,
)
def lenet5(*, num_classes: int = 10, in_chans: int = 1, input_size: int = 32) -> nn.Module:
    """LeNet-5; ``input_size`` >= 32 (C5's output is averaged to 1x1 above 32)."""
    del input_size  # the adaptive pool makes the weights independent of the input size
    return LeNet5(num_classes=num_classes, in_chans=in_chans)
