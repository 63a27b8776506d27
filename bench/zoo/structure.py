"""Shapes without memory: build a model on the meta device, for checks and counting.

A leaf of the zoo (it imports nothing of it), used by the builder (norm swaps are checked on
a shapes-only twin before any weight is initialised), by ``external`` (probing a torchvision
or timm builder) and by the catalog behind `bench list`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def structure_only(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` on the meta device (no memory, no initialization), or on the CPU for the
    few constructors that compute with tensors (torchvision's RegNets)."""
    try:
        with torch.device("meta"):
            return build()
    except NotImplementedError:
        return build()
