"""Every zoo model builds for any class count, grey and colour 32x32 and ImageNet inputs.

Real forward passes run at 1x32x32 (all models) and at the native ImageNet size for the
small ones; the other shape checks propagate shapes on the meta device, which costs no
compute, so the large ImageNet models are never run here.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from bench.errors import BenchError
from bench.zoo import create_model, get_model_spec, list_models
from bench.zoo.references import torchvision_weights_of

ZOO = list_models(group="all")
SMALL_AT_IMAGENET = ("lenet5", "resnet20", "nin")


def meta_model(name: str, *, num_classes: int, in_chans: int, input_size: int | None = None, **kw) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size, **kw).eval()


def meta_forward(model: nn.Module, shape: tuple[int, ...], batch: int = 2) -> torch.Size:
    with torch.no_grad():
        return model(torch.empty(batch, *shape, device="meta")).shape


def test_the_zoo_holds_the_classic_models() -> None:
    assert set(ZOO) == {
        "lenet5", "alexnet", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
        "vgg16_bn", "vgg19_bn", "nin", "googlenet", "inception_v3", "resnet18", "resnet34",
        "resnet50", "resnet101", "resnet152", "resnet20", "resnet56", "densenet121",
        "resnext50_32x4d",
    }  # fmt: skip


@pytest.mark.parametrize("name", ZOO)
def test_forward_grey_32(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=1, input_size=32).eval()
    shape = model.bench_cfg.input_size
    assert shape[0] == 1 and shape[1] == shape[2] >= 32
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", SMALL_AT_IMAGENET)
def test_forward_native_imagenet_size(name: str) -> None:
    spec = get_model_spec(name)
    model = create_model(name, num_classes=1000, in_chans=3, input_size=224).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000)
    assert spec.resolve_input_size(224) == 224


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize(
    ("in_chans", "size", "num_classes"),
    [(3, 32, 100), (3, None, 1000), (1, None, 7), (3, 96, 5)],
    ids=["rgb32", "imagenet", "grey-imagenet", "rgb96"],
)
def test_shapes_for_any_input_and_class_count(name: str, in_chans: int, size: int | None, num_classes: int) -> None:
    model = meta_model(name, num_classes=num_classes, in_chans=in_chans, input_size=size)
    shape = model.bench_cfg.input_size
    assert shape[0] == in_chans
    if size is None:
        assert shape[1:] == (get_model_spec(name).native_input_size,) * 2
    assert meta_forward(model, shape) == (2, num_classes)


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize("size", [32, None], ids=["small", "imagenet"])
def test_classifier_names_are_the_class_producing_layers(name: str, size: int | None) -> None:
    spec = get_model_spec(name)
    model = meta_model(name, num_classes=13, in_chans=3, input_size=size)
    modules = dict(model.named_modules())
    assert spec.classifier
    assert all(isinstance(modules[layer], (nn.Linear, nn.Conv2d)) for layer in spec.classifier)
    producing = [n for n, m in modules.items() if getattr(m, "out_features", getattr(m, "out_channels", None)) == 13]
    assert len(producing) == 1  # one layer outputs the classes (no auxiliary heads) ...
    assert producing[0] in spec.classifier  # ... and pruning is told to leave it alone


@pytest.mark.parametrize("name", ZOO)
def test_norm_field_says_whether_there_is_batchnorm(name: str) -> None:
    model = meta_model(name, num_classes=10, in_chans=3)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert get_model_spec(name).norm == ("bn" if has_bn else None)


@pytest.mark.parametrize("name", [n for n in ZOO if get_model_spec(n).min_input_size > 1])
def test_min_input_size_is_the_smallest_accepted(name: str) -> None:
    smallest = get_model_spec(name).min_input_size
    model = meta_model(name, num_classes=10, in_chans=3, input_size=smallest)
    assert model.bench_cfg.input_size == (3, smallest, smallest)
    assert meta_forward(model, (3, smallest, smallest)) == (2, 10)
    with pytest.raises((RuntimeError, ValueError)):
        meta_forward(model, (3, smallest - 1, smallest - 1))


@pytest.mark.parametrize("name", [n for n in ZOO if get_model_spec(n).torchvision_name])
def test_published_minimum_is_torchvision_min_size(name: str) -> None:
    spec = get_model_spec(name)
    meta = torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT.meta
    assert spec.min_input_size == meta["min_size"][0]


@pytest.mark.parametrize(("name", "smallest"), [("alexnet", 63), ("zfnet", 53), ("inception_v3", 75)])
def test_resize_policy_builds_for_the_minimum(name: str, smallest: int) -> None:
    model = meta_model(name, num_classes=10, in_chans=1, input_size=32)
    assert model.bench_cfg.input_size == (1, smallest, smallest)
    assert model.bench_cfg.adaptation == f"resized 32->{smallest}"


def test_adapt_policy_models_refuse_inputs_below_their_minimum() -> None:
    with pytest.raises(BenchError, match="at least 32x32"):
        create_model("vgg11", num_classes=10, in_chans=1, input_size=16)


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn"])
def test_vgg_is_torchvision_exactly_at_224(name: str) -> None:
    ours = meta_model(name, num_classes=1000, in_chans=3, input_size=224)
    with torch.device("meta"):
        theirs = torchvision.models.get_model(name, weights=None)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


def test_vgg_small_input_head_is_the_cifar_form() -> None:
    model = meta_model("vgg16", num_classes=10, in_chans=3, input_size=32)
    assert isinstance(model.avgpool, nn.AdaptiveAvgPool2d) and model.avgpool.output_size == 1
    linears = [(m.in_features, m.out_features) for m in model.classifier if isinstance(m, nn.Linear)]
    assert linears == [(512, 512), (512, 512), (512, 10)]
    assert sum(isinstance(m, nn.Dropout) for m in model.classifier) == 2
    assert "CIFAR" in model.bench_cfg.adaptation


def test_vgg_small_head_is_initialized_like_torchvision() -> None:
    torch.manual_seed(0)
    model = create_model("vgg11", num_classes=10, in_chans=1, input_size=32)
    last = model.classifier[6]
    assert torch.all(last.bias == 0)
    assert 0.005 < last.weight.std().item() < 0.015  # normal(0, 0.01)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_nin_switches_to_the_cifar_model_below_224() -> None:
    small = meta_model("nin", num_classes=10, in_chans=3, input_size=32)
    large = meta_model("nin", num_classes=1000, in_chans=3, input_size=224)
    assert small.features[0].kernel_size == (5, 5) and small.features[0].out_channels == 192
    assert large.features[0].kernel_size == (11, 11) and large.features[0].stride == (4, 4)


def test_resnet_cifar_stem_is_opt_in() -> None:
    default = meta_model("resnet18", num_classes=10, in_chans=1, input_size=32)
    assert default.conv1.kernel_size == (7, 7) and isinstance(default.maxpool, nn.MaxPool2d)
    cifar = meta_model("resnet18", num_classes=10, in_chans=1, input_size=32, cifar_stem=True)
    assert (cifar.conv1.in_channels, cifar.conv1.kernel_size, cifar.conv1.stride) == (1, (3, 3), (1, 1))
    assert isinstance(cifar.maxpool, nn.Identity)
    assert cifar.bench_cfg.extra == {"cifar_stem": True}
    assert meta_forward(cifar, (1, 32, 32)) == (2, 10)


def test_cifar_resnets_use_zero_padding_shortcuts() -> None:
    model = meta_model("resnet20", num_classes=10, in_chans=3)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19  # 6n + 1 convolutions, n = 3, plus the fc makes 20 layers
    assert all(m.kernel_size == (3, 3) for m in convs)  # no 1x1 projection shortcuts


def test_input_size_for_data_feeds_inception_its_native_299_on_imagenet() -> None:
    assert get_model_spec("inception_v3").input_size_for_data(224) == 299
    assert get_model_spec("resnet18").input_size_for_data(224) == 224
    assert get_model_spec("lenet5").input_size_for_data(224) == 224
    assert get_model_spec("alexnet").input_size_for_data(32) == 32  # create_model resizes


@pytest.mark.parametrize("name", ZOO)
def test_spec_data_is_complete(name: str) -> None:
    spec = get_model_spec(name)
    assert spec.family and spec.paper and 1990 < spec.year < 2020
    assert spec.small_input in ("native", "adapt", "resize")
    assert spec.small_input_note
    assert spec.min_input_size <= spec.native_input_size
    if spec.torchvision_name:
        assert any(torchvision_weights_of(ref) for ref in spec.references)
