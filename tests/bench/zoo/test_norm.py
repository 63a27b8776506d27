"""Normalization swaps and classifier dropout: what each kind builds, and bad input in one line."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError
from bench.zoo import check_build_options, create_model
from bench.zoo.norm import (
    classifier_dropouts,
    group_count,
    norm_layer,
    parse_norms,
    swap_norm,
)
from bench.zoo.structure import structure_only


def resnet20(**kwargs) -> nn.Module:
    torch.manual_seed(0)
    return create_model("resnet20", num_classes=10, in_chans=1, input_size=32, **kwargs)


def norms_of(model: nn.Module) -> list[nn.Module]:
    return [m for name, m in model.named_modules() if name.rpartition(".")[2].startswith("bn")]


@pytest.mark.parametrize(("channels", "groups"), [(64, 32), (48, 24), (96, 32), (16, 16), (20, 20), (3, 3)])
def test_group_norm_takes_32_groups_or_the_largest_divisor_below(channels: int, groups: int) -> None:
    assert group_count(channels) == groups


@pytest.mark.parametrize(
    ("kind", "groups_of"),
    [("gn", group_count), ("ln", lambda c: 1), ("in", lambda c: c)],
)
def test_every_batch_norm_becomes_the_group_norm_of_its_kind(kind: str, groups_of) -> None:
    model = resnet20(norm=kind)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    layers = norms_of(model)
    assert len(layers) == 19 and all(type(m) is nn.GroupNorm for m in layers)
    assert all(m.num_groups == groups_of(m.num_channels) for m in layers)
    assert model.bench_cfg.norm == kind
    assert not any("running" in key for key in model.state_dict())  # per-image statistics only
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_ln_and_in_compute_layer_and_instance_norm() -> None:
    x = torch.randn(2, 6, 5, 5)
    assert torch.allclose(norm_layer("ln", 6)(x), F.layer_norm(x, x.shape[1:]), atol=1e-5)
    assert torch.allclose(norm_layer("in", 6)(x), F.instance_norm(x), atol=1e-5)


def test_the_swap_keeps_the_builders_affine_initialization_and_none_removes_the_layers() -> None:
    plain = resnet20()
    with torch.no_grad():
        plain.layer1[0].bn2.weight.zero_()  # as a zero-init-residual builder would
    swap_norm(plain, "gn")
    assert torch.equal(plain.layer1[0].bn2.weight, torch.zeros(16))
    assert all(isinstance(m, nn.Identity) for m in norms_of(resnet20(norm="none")))


def test_the_models_own_norm_builds_the_model_unchanged() -> None:
    assert resnet20(norm="bn").state_dict().keys() == resnet20().state_dict().keys()
    assert resnet20(norm="BN").bench_cfg.norm == "bn" and resnet20().bench_cfg.norm == "bn"


def test_a_norm_list_is_checked_and_deduplicated() -> None:
    assert parse_norms("bn, GN,ln,gn") == ["bn", "gn", "ln"]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("resnet20", {"norm": "foo"}, "--norm 'foo' is not a normalization"),
        ("lenet5", {"norm": "gn"}, "--norm gn: lenet5 has no normalization layers to swap"),
        ("vgg16", {"norm": "bn"}, "vgg16 has no normalization layers to swap"),
        (
            "resnet18",
            {"norm": "in"},
            "--norm in would normalize single values in resnet18 at 32x32 inputs: 5 layer(s) see 1x1 maps (layer4.0.bn1, ...)",
        ),
        ("vgg11", {"dropout": 1.5}, "--dropout 1.5 is out of range"),
        ("vgg11", {"dropout": -0.1}, "--dropout -0.1 is out of range"),
        ("resnet20", {"dropout": 0.2}, "--dropout: resnet20 has no dropout before its classifier"),
    ],
)
def test_bad_options_are_one_line_errors_found_without_building(name: str, options: dict, message: str) -> None:
    with pytest.raises(BenchError) as info:
        check_build_options(name, in_chans=1, input_size=32, **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_only_plain_batch_norm_is_swapped() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.BatchNorm1d(36))
    with pytest.raises(BenchError, match="BatchNorm1d"):
        swap_norm(model, "gn")


@pytest.mark.parametrize(
    ("name", "dropouts"),
    [
        ("vgg11_bn", ["classifier.2", "classifier.5"]),
        ("alexnet", ["classifier.0", "classifier.3"]),
        ("googlenet", ["dropout"]),
        ("nin", []),  # its dropout sits between feature blocks, not before the classifier
        ("lenet5", []),
    ],
)
def test_classifier_dropouts_are_the_ones_in_or_beside_the_classifier(name: str, dropouts: list[str]) -> None:
    from bench.zoo import get_model_spec

    model = structure_only(lambda: create_model(name, num_classes=10, in_chans=1, input_size=32))
    assert classifier_dropouts(model, get_model_spec(name).classifier) == dropouts


def test_dropout_sets_p_on_the_classifier_only_and_is_recorded() -> None:
    model = structure_only(lambda: create_model("nin", num_classes=10, in_chans=1, input_size=32))
    untouched = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    model = structure_only(lambda: create_model("vgg11_bn", num_classes=10, in_chans=1, input_size=32, dropout=0.1))
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.1, 0.1]
    assert model.bench_cfg.dropout == 0.1 and untouched == [0.5, 0.5]


def test_swapped_models_still_prune_and_quantize() -> None:
    from compress.pruning import prune_model
    from compress.quantization import quantize_int8

    images = torch.randn(4, 1, 32, 32)
    layer_norm = resnet20(norm="ln")
    result = prune_model(layer_norm, ratio=0.5, example_inputs=images)
    assert result.params_after < result.params_before / 3 and layer_norm.bn1.num_channels == 8
    group_norm = resnet20(norm="gn").eval()
    quantized = quantize_int8(group_norm, [images]).model
    assert quantized(images).shape == (4, 10)
    assert any(type(m) is nn.GroupNorm for m in quantized.modules())  # FX leaves GroupNorm in float
