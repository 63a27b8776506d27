"""Published figures: recorded faithfully, and met by the models we build.

torchvision's weights metadata is the published ImageNet table; our Reference records must
equal it (a drift in either is caught here), our ImageNet models must have exactly its
parameter counts (Inception-v3: without the AuxLogits head it counts) and MACs within 2%
of its GFLOPS column. MACs here are counted by ``torch.utils.flop_counter`` on the meta
device (shapes only, instant); ``tests/bench/cli/test_zoo_cmds.py`` checks the fvcore
counts `bench list` reports end to end.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.inception import InceptionAux

from bench.profiling.catalog import DataInput, blank_model
from bench.profiling.complexity import count_macs_flop_counter, count_params
from bench.zoo import create_model, get_model_spec, list_models
from bench.zoo.references import torchvision_weights_of

ZOO = list_models(group="all")
TORCHVISION_REFERENCED = [
    (name, ref) for name in ZOO for ref in get_model_spec(name).references if torchvision_weights_of(ref)
]
OTHER_REFERENCED = [
    (name, ref)
    for name in ZOO
    for ref in get_model_spec(name).references
    if not torchvision_weights_of(ref) and ref.params is not None
]
IDS = [name for name, _ in TORCHVISION_REFERENCED]


@functools.cache
def imagenet_meta_model(name: str, input_size: int) -> nn.Module:
    """The ImageNet model on the meta device: shapes only, so all 18 are cheap to keep."""
    with torch.device("meta"):
        return create_model(name, num_classes=1000, in_chans=3, input_size=input_size).eval()


def aux_logits_params() -> int:
    """Inception-v3's auxiliary head at 1000 classes, counted from torchvision's own class."""
    with torch.device("meta"):
        return sum(p.numel() for p in InceptionAux(768, 1000).parameters())


def expected_params(name: str, published: int) -> int:
    return published - aux_logits_params() if name == "inception_v3" else published


def test_every_torchvision_model_has_a_reference() -> None:
    referenced = {name for name, _ in TORCHVISION_REFERENCED}
    with_weights = {name for name in ZOO if get_model_spec(name).torchvision_name}
    assert referenced == with_weights
    assert len(referenced) == 18


@pytest.mark.parametrize(("name", "ref"), TORCHVISION_REFERENCED, ids=IDS)
def test_references_equal_torchvision_weights_meta(name, ref) -> None:
    spec = get_model_spec(name)
    weights = torchvision.models.get_weight(torchvision_weights_of(ref))
    assert str(weights) == str(torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT)
    assert ref.params == weights.meta["num_params"]
    assert ref.gmacs == weights.meta["_ops"]
    assert ref.num_classes == len(weights.meta["categories"]) == 1000
    assert ref.input_size == weights.transforms.keywords["crop_size"] == spec.native_input_size


@pytest.mark.parametrize(("name", "ref"), TORCHVISION_REFERENCED, ids=IDS)
def test_imagenet_params_equal_torchvision_exactly(name, ref) -> None:
    total, trainable = count_params(imagenet_meta_model(name, ref.input_size))
    assert total == trainable == expected_params(name, ref.params)


@pytest.mark.parametrize(("name", "ref"), TORCHVISION_REFERENCED, ids=IDS)
def test_imagenet_macs_within_two_percent_of_torchvision(name, ref) -> None:
    macs = count_macs_flop_counter(imagenet_meta_model(name, ref.input_size), (3, ref.input_size, ref.input_size))
    assert macs == pytest.approx(ref.gmacs * 1e9, rel=0.02)


def test_inception_reference_documents_the_aux_head() -> None:
    ref = get_model_spec("inception_v3").references[0]
    assert f"{aux_logits_params():,}" in ref.note
    assert f"{ref.params - aux_logits_params():,}" in ref.note


@pytest.mark.parametrize(("name", "ref"), OTHER_REFERENCED, ids=[f"{n}-{r.input_size}" for n, r in OTHER_REFERENCED])
def test_other_references_match_the_built_model(name, ref) -> None:
    model = blank_model(name, DataInput(in_chans=ref.in_chans, image_size=ref.input_size, num_classes=ref.num_classes))
    assert count_params(model)[0] == ref.params


@pytest.mark.parametrize(("name", "paper_millions"), [("resnet20", 0.27), ("resnet56", 0.85)])
def test_cifar_resnets_match_the_paper_table(name: str, paper_millions: float) -> None:
    model = blank_model(name, DataInput(in_chans=3, image_size=32, num_classes=10))
    assert round(count_params(model)[0] / 1e6, 2) == paper_millions
