"""Data-dependent initialization for networks without normalization layers (LSUV-style).

Plain deep stacks such as VGG without batch norm start with vanishing signals under their
reference initialization (torchvision's VGG at 1x32x32: logits of std ~3e-4), which is why
they are "famously hard to start". Mishkin & Matas ("All you need is a good init", ICLR
2016) trained them by rescaling each layer, in forward order, so that its output has unit
variance on a batch of real data. :func:`unit_variance_init_` does that in one forward
pass: a hook on every convolution and linear layer divides the layer's weight and bias by
the standard deviation of its output and hands the rescaled output on, so each later layer
is measured on already-normalized inputs. Weight directions (the model's own init) are
kept; only their scale changes.
"""

from __future__ import annotations

import torch
from torch import nn

SCALED_TYPES = (nn.Conv2d, nn.Linear)
MIN_STD = 1e-8


@torch.no_grad()
def unit_variance_init_(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Rescale every conv/linear layer to unit output std on ``images``, in forward order.

    Runs in eval mode (dropout off) and restores the mode. Returns the factor each layer's
    weights were multiplied by, keyed by module name (a layer called twice is scaled once).
    """
    factors: dict[str, float] = {}
    handles = []

    def rescale(name: str):
        def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            std = output.float().std().item()
            if name in factors or std < MIN_STD:  # a dead layer cannot be rescaled back to life
                return output
            module.weight.div_(std)
            if module.bias is not None:
                module.bias.div_(std)
            factors[name] = 1.0 / std
            return output / std

        return hook

    for name, module in model.named_modules():
        if isinstance(module, SCALED_TYPES):
            handles.append(module.register_forward_hook(rescale(name)))
    was_training = model.training
    model.eval()
    try:
        model(images)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return factors
