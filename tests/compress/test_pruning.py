"""Structured pruning: widths, protected layers, exactness, grouped convolutions, save/reload."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from bench.zoo import create_model
from compress.pruning import load_pruned, prune_model, save_pruned


def _lenet():
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


LENET_INPUT = torch.randn(1, 1, 32, 32)


def test_lenet_widths_and_counts():
    model = _lenet()
    result = prune_model(model, ratio=0.5, example_inputs=LENET_INPUT)
    assert result.model is model  # in place
    widths = {w.name: (w.before, w.after) for w in result.widths}
    assert widths == {
        "features.0": (6, 3),  # C1: 6 channels keep 3 (narrower than round_to=8)
        "features.3": (16, 8),
        "features.6": (120, 64),
        "classifier.1": (84, 84),  # F6 is listed in the zoo's classifier: protected
        "classifier.3": (10, 10),
    }
    assert set(result.protected) == {"classifier.1", "classifier.3"}
    assert result.params_after == sum(p.numel() for p in model.parameters()) < result.params_before
    assert result.macs_before / result.macs_after >= 2.0
    assert result.criterion == "l1" and result.groups_pruned == 3
    assert model(torch.randn(3, 1, 32, 32)).shape == (3, 10)


def test_round_to_none_keeps_the_exact_share():
    result = prune_model(_lenet(), ratio=0.5, example_inputs=LENET_INPUT, round_to=None)
    assert [w.after for w in result.widths] == [3, 8, 60, 84, 10]


def _kept_channels(original: nn.Module, pruned: nn.Module) -> list[int]:
    """Which original output channels survived, found by their (unique, random) biases."""
    return [int((original.bias == b).nonzero()[0]) for b in pruned.bias]


def test_pruned_lenet_equals_the_original_with_the_removed_channels_cut():
    """Removing channel c of a layer = zeroing the next layer's inputs from c: outputs agree."""
    original = _lenet().eval()
    pruned = prune_model(copy.deepcopy(original), ratio=0.5, example_inputs=LENET_INPUT).model.eval()
    layers = [("features.0", "features.3"), ("features.3", "features.6"), ("features.6", "classifier.1")]
    reference = copy.deepcopy(original)
    with torch.no_grad():
        for producer, consumer in layers:
            kept = _kept_channels(original.get_submodule(producer), pruned.get_submodule(producer))
            removed = [c for c in range(original.get_submodule(producer).out_channels) if c not in kept]
            reference.get_submodule(consumer).weight[:, removed] = 0
    x = torch.randn(4, 1, 32, 32)
    torch.testing.assert_close(pruned(x), reference(x), rtol=1e-5, atol=1e-6)


def test_aux_heads_and_the_classifier_keep_their_outputs_and_follow_their_inputs(aux_net):
    aux_net.train()
    result = prune_model(aux_net, ratio=0.5, example_inputs=torch.randn(1, 3, 8, 8))
    assert {"aux", "fc"} <= set(result.protected)
    assert aux_net.conv1.out_channels == 8 and aux_net.aux[2].in_features == 8
    assert aux_net.aux[2].out_features == 16  # inside the aux head: not pruned
    assert aux_net.training and int(aux_net.bn1.num_batches_tracked) == 0  # tracing left no trace
    main, aux = aux_net(torch.randn(2, 3, 8, 8))
    assert main.shape == aux.shape == (2, 4)


def test_taylor_and_global_pruning(aux_net):
    batches = [(torch.randn(4, 3, 8, 8), torch.randint(4, (4,)))]
    result = prune_model(
        aux_net,
        ratio=0.5,
        example_inputs=torch.randn(1, 3, 8, 8),
        criterion="taylor",
        global_pruning=True,
        grad_batches=batches,
    )
    assert result.global_pruning and result.criterion == "taylor"
    assert all(p.grad is None for p in aux_net.parameters())  # scoring gradients are dropped
    assert all(w.after >= 1 for w in result.widths)
    assert aux_net.eval()(torch.randn(2, 3, 8, 8)).shape == (2, 4)


def test_zoo_resnet18_prunes_and_reloads_exactly(tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_chans=3, input_size=32)
    result = prune_model(model, ratio=0.5, example_inputs=torch.randn(1, 3, 32, 32))
    assert result.protected == ("fc",)
    assert 0.2 < result.macs_fraction < 0.5
    path = save_pruned(model, tmp_path / "pruned.pt")
    torch.load(path, weights_only=True)  # plain data only
    reloaded = load_pruned(path, create_model("resnet18", num_classes=10, in_chans=3, input_size=32))
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model.eval()(x), reloaded.eval()(x))
    assert reloaded.layer1[0].conv1.out_channels == model.layer1[0].conv1.out_channels == 32


def test_load_pruned_rejects_another_architecture_and_foreign_files(tmp_path):
    lenet = _lenet()
    prune_model(lenet, ratio=0.5, example_inputs=LENET_INPUT)
    path = save_pruned(lenet, tmp_path / "lenet.pt")
    with pytest.raises(BenchError, match="does not fit this model"):
        load_pruned(path, nn.Sequential(nn.Conv2d(1, 6, 5)))
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "cnnbench-pruned", "model": nn.Linear(2, 2)}, pickled)
    with pytest.raises(BenchError, match="cannot read pruned model"):
        load_pruned(pickled, _lenet())
    with pytest.raises(BenchError, match="no pruned model"):
        load_pruned(tmp_path / "missing.pt", _lenet())


def test_bn_scale_on_a_model_without_batch_norm_is_an_error():
    with pytest.raises(BenchError, match="bn-scale criterion found no prunable channels"):
        prune_model(_lenet(), ratio=0.5, example_inputs=LENET_INPUT, criterion="bn-scale")


def test_an_operation_pruning_cannot_follow_is_reported(pad_net):
    with pytest.raises(BenchError, match="cannot prune this model.*F.pad on channels"):
        prune_model(pad_net, ratio=0.5, example_inputs=torch.randn(1, 3, 8, 8), round_to=None)


def test_ignored_layers_keep_their_width():
    model = _lenet()
    result = prune_model(model, ratio=0.5, example_inputs=LENET_INPUT, ignored_layers=["features.3"])
    assert model.features[3].out_channels == 16 and "features.3" in result.protected
    with pytest.raises(BenchError, match="no_such_layer"):
        prune_model(_lenet(), ratio=0.5, example_inputs=LENET_INPUT, ignored_layers=["no_such_layer"])
