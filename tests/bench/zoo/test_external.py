"""`tv:NAME` and `timm:NAME`: specs from the libraries' own offline metadata, untrained builds."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from bench.errors import BenchError
from bench.zoo import create_model, get_model_spec, resolve_model_names
from bench.zoo.external import external_spec, smallest_accepted_size


def test_torchvision_spec_comes_from_the_weights_meta() -> None:
    spec = get_model_spec("tv:squeezenet1_0")
    meta = torchvision.models.SqueezeNet1_0_Weights.DEFAULT.meta
    assert (spec.min_input_size, spec.native_input_size) == (meta["min_size"][0], 224)
    assert spec.references[0].params == meta["num_params"]
    assert spec.classifier == ("classifier.1",)  # a 1x1 convolution, not a Linear
    assert spec.norm is None and spec.groups == () and spec.small_input == "resize"


def test_torchvision_build_adapts_the_stem_and_class_count() -> None:
    model = create_model("tv:mobilenet_v3_small", num_classes=10, in_chans=1, input_size=32).eval()
    assert model.features[0][0].in_channels == 1
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_torchvision_aux_heads_are_left_out() -> None:
    spec = get_model_spec("tv:googlenet")
    assert spec.classifier == ("fc",)
    with torch.device("meta"):
        model = create_model("tv:googlenet", num_classes=10, in_chans=3, input_size=224)
    assert model.aux1 is None and model.aux2 is None


def test_small_inputs_are_resized_to_the_published_minimum() -> None:
    with torch.device("meta"):
        model = create_model("tv:vit_b_32", num_classes=10, in_chans=1, input_size=32)
    assert model.bench_cfg.input_size == (1, 224, 224)
    assert model.conv_proj.in_channels == 1


def test_timm_build_uses_in_chans_and_cfg_names() -> None:
    spec = get_model_spec("timm:resnet18")
    assert spec.classifier == ("fc",) and spec.norm == "bn" and spec.min_input_size == 1
    model = create_model("timm:resnet18", num_classes=5, in_chans=1, input_size=32).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 5)


def test_timm_fixed_size_models_have_their_native_size_as_minimum() -> None:
    spec = get_model_spec("timm:vit_tiny_patch16_224")
    assert spec.min_input_size == spec.native_input_size == 224
    assert spec.norm == "ln"


def test_smallest_accepted_size_finds_the_bound() -> None:
    def builder(*, num_classes: int, in_chans: int, input_size: int) -> nn.Module:
        pool = nn.AdaptiveAvgPool2d(1)
        return nn.Sequential(nn.Conv2d(in_chans, 4, 7), nn.MaxPool2d(3), pool, nn.Flatten(), nn.Linear(4, num_classes))

    assert smallest_accepted_size(builder, 64) == 9  # 7x7 valid conv, then a 3x3 pool


@pytest.mark.parametrize(
    ("name", "hint"),
    [("tv:resnet5", "resnet50"), ("timm:resnet5O", "resnet50"), ("tv:mobilenet", "mobilenet_v2")],
)
def test_unknown_names_suggest_close_ones(name: str, hint: str) -> None:
    with pytest.raises(BenchError, match=hint) as info:
        get_model_spec(name)
    assert "\n" not in str(info.value)


def test_specs_are_cached() -> None:
    assert external_spec("tv:resnet18") is external_spec("tv:resnet18")


def test_prefixed_names_pass_through_model_specs() -> None:
    assert resolve_model_names("lenet5,tv:resnet18,timm:resnet18") == ["lenet5", "tv:resnet18", "timm:resnet18"]
