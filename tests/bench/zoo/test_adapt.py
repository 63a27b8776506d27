"""The shared stem adaptation: geometry kept, family init inherited, pretrained weights converted."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError
from bench.zoo.adapt import adapt_conv_weight, first_conv_name, set_in_chans


def _stem_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 8, kernel_size=5, stride=2, padding=2, dilation=1, bias=True)),
        nn.ReLU(),
        nn.Conv2d(8, 4, kernel_size=3),
    )


@pytest.mark.parametrize("in_chans", [1, 2, 5])
def test_set_in_chans_keeps_geometry_and_inherits_the_init(in_chans: int) -> None:
    model = _stem_model()
    old = model[0][0]
    set_in_chans(model, "0.0", in_chans)
    new = model[0][0]
    assert new.in_channels == in_chans
    for attr in ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"):
        assert getattr(new, attr) == getattr(old, attr)
    # element for element the old kernel's input channels, cycled past three
    for channel in range(in_chans):
        assert torch.equal(new.weight[:, channel], old.weight[:, channel % 3])
    assert torch.equal(new.bias, old.bias)
    assert model(torch.randn(2, in_chans, 16, 16)).shape == (2, 4, 6, 6)


def test_set_in_chans_without_inheritance_uses_pytorch_default_init() -> None:
    torch.manual_seed(0)
    model = set_in_chans(_stem_model(), "0.0", 1, inherit_init=False)
    conv = model[0][0]
    bound = 1 / (conv.in_channels * 5 * 5) ** 0.5  # kaiming_uniform(a=sqrt(5)) for fan_in 25
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.5 * bound  # a fresh draw, not a copy of the 3-channel kernel


def test_set_in_chans_is_a_no_op_at_the_same_width() -> None:
    model = _stem_model()
    stem = model[0][0]
    assert set_in_chans(model, "0.0", 3) is model
    assert model[0][0] is stem


def test_set_in_chans_bias_free_conv_stays_bias_free() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False))
    set_in_chans(model, "0", 1)
    assert model[0].bias is None


def test_set_in_chans_rejects_non_convolutions() -> None:
    with pytest.raises(TypeError, match="not a Conv2d"):
        set_in_chans(_stem_model(), "1", 1)


def test_first_conv_name_finds_the_stem() -> None:
    assert first_conv_name(_stem_model()) == "0.0"
    with pytest.raises(ValueError):
        first_conv_name(nn.Sequential(nn.Linear(2, 2)))


def test_one_channel_weight_sees_grey_as_rgb_did() -> None:
    rgb_weight = torch.randn(6, 3, 3, 3)
    grey = torch.randn(2, 1, 8, 8)
    expected = F.conv2d(grey.expand(-1, 3, -1, -1), rgb_weight)
    assert torch.allclose(F.conv2d(grey, adapt_conv_weight(rgb_weight, 1)), expected, atol=1e-5)


@pytest.mark.parametrize("in_chans", [6, 9])
def test_multiples_of_three_keep_the_response_to_a_uniform_image(in_chans: int) -> None:
    rgb_weight = torch.randn(6, 3, 3, 3)
    adapted = adapt_conv_weight(rgb_weight, in_chans)
    plane = torch.randn(1, 1, 8, 8)
    expected = F.conv2d(plane.expand(-1, 3, -1, -1), rgb_weight)
    got = F.conv2d(plane.expand(-1, in_chans, -1, -1), adapted)
    assert torch.allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("in_chans", [2, 4, 7])
def test_other_widths_tile_rgb_and_rescale(in_chans: int) -> None:
    rgb_weight = torch.randn(6, 3, 3, 3)
    adapted = adapt_conv_weight(rgb_weight, in_chans)
    assert adapted.shape == (6, in_chans, 3, 3)
    for channel in range(in_chans):
        assert torch.allclose(adapted[:, channel], rgb_weight[:, channel % 3] * 3 / in_chans)


def test_adapt_conv_weight_keeps_dtype_and_passes_matching_widths() -> None:
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float16)
    assert adapt_conv_weight(weight, 1).dtype == torch.float16
    assert adapt_conv_weight(weight, 3) is weight


def test_adapt_conv_weight_rejects_non_rgb_sources() -> None:
    with pytest.raises(BenchError, match="4-channel"):
        adapt_conv_weight(torch.randn(4, 4, 3, 3), 1)
    with pytest.raises(BenchError, match="4-d"):
        adapt_conv_weight(torch.randn(4, 3), 1)
