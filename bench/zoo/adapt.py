"""Input-channel adaptation shared by every family: one stem convolution, one rule.

The ImageNet architectures expect RGB; the digit data sets are grey. Rather than each family
patching its stem its own way, builders call :func:`set_in_chans`, which swaps the first
convolution for one with ``in_chans`` inputs and otherwise the same geometry, initialized
from the model's own freshly initialized stem so each family keeps its init scheme. When
pretrained RGB weights are later loaded into such a stem, :func:`adapt_conv_weight` converts
the 3-channel kernel the way timm does (sum for one channel, repeat-and-rescale otherwise),
so the stem's response to a grey image equals the RGB stem's response to that image
replicated on three channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench.errors import BenchError


def set_in_chans(model: nn.Module, conv_name: str, in_chans: int, *, inherit_init: bool = True) -> nn.Module:
    """Replace the convolution ``conv_name`` by one reading ``in_chans`` channels; return ``model``.

    Out channels, kernel, stride, padding, dilation, bias and padding mode are kept. With
    ``inherit_init`` the new kernel's input channels are the old kernel's (cycled when
    ``in_chans`` > 3) and the bias is copied: element for element the family's own
    initialization, exact for the fan-out and fixed-std schemes of VGG, ResNet, GoogLeNet
    and Inception (for fan-in schemes the spread stays that of the 3-channel stem). Without
    it the new convolution keeps PyTorch's default initialization, which is what
    torchvision's AlexNet uses everywhere. A no-op when the convolution already reads
    ``in_chans`` channels, so builders can call it unconditionally.
    """
    conv = model.get_submodule(conv_name)
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"{conv_name} is a {type(conv).__name__}, not a Conv2d")
    if conv.in_channels == in_chans:
        return model
    if conv.groups != 1:
        raise ValueError(f"{conv_name} is a grouped convolution; its input width cannot be changed")
    replacement = nn.Conv2d(
        in_chans,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    if inherit_init:
        with torch.no_grad():
            repeats = math.ceil(in_chans / conv.in_channels)
            replacement.weight.copy_(conv.weight.repeat(1, repeats, 1, 1)[:, :in_chans])
            if conv.bias is not None:
                replacement.bias.copy_(conv.bias)
    model.set_submodule(conv_name, replacement)
    return model


def first_conv_name(model: nn.Module) -> str:
    """Name of the first registered Conv2d: the stem of every torchvision classifier."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name
    raise ValueError(f"{type(model).__name__} has no Conv2d to adapt to another channel count")


def adapt_conv_weight(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Convert a pretrained ``(out, 3, kh, kw)`` RGB kernel to ``in_chans`` input channels.

    One channel: sum over RGB (a grey image seen as R=G=B gives the same activations).
    Other counts: tile the RGB kernel over the channels and scale by ``3 / in_chans`` so the
    expected activation magnitude stays that of the pretrained stem.
    """
    if weight.dim() != 4:
        raise BenchError(
            f"expected a 4-d convolution weight, got shape {tuple(weight.shape)}",
            "pass the stem convolution's weight",
        )
    have = weight.shape[1]
    if have == in_chans:
        return weight
    if have != 3:
        raise BenchError(
            f"cannot adapt a {have}-channel stem weight to {in_chans} channels",
            "only RGB (3-channel) pretrained stems can be converted",
        )
    original_dtype = weight.dtype
    work = weight.float()
    if in_chans == 1:
        adapted = work.sum(dim=1, keepdim=True)
    else:
        repeats = math.ceil(in_chans / 3)
        adapted = work.repeat(1, repeats, 1, 1)[:, :in_chans] * (3.0 / in_chans)
    return adapted.to(original_dtype)
