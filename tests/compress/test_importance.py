"""Importance criteria: a registry of named strategies that each score one value per channel."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from compress.importance import DEFAULT_CRITERION, get_criterion, list_criteria
from compress.pruning import prune_model
from compress.tp_import import tp


def _conv1_group(model: nn.Module):
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(2, 3, 8, 8))
    return graph.get_pruning_group(model.conv1, tp.prune_conv_out_channels, idxs=list(range(16)))


def test_registry_lists_every_criterion_default_first():
    names = list_criteria()
    assert names[0] == DEFAULT_CRITERION == "l1"
    assert set(names) == {"l1", "l2", "taylor", "bn-scale", "random", "lamp", "fpgm"}
    for name in names:
        criterion = get_criterion(name)
        assert criterion.name == name and criterion.summary


def test_unknown_criterion_suggests_close_names():
    with pytest.raises(BenchError, match=r"unknown pruning criterion 'l3'.*did you mean"):
        get_criterion("l3")
    assert get_criterion(" L2 ").name == "l2"


@pytest.mark.parametrize("name", list_criteria())
def test_every_criterion_scores_each_channel_of_a_group(name, grouped_net):
    criterion = get_criterion(name)
    if criterion.needs_batches:
        grouped_net.train()
        criterion.prepare(grouped_net, [(torch.randn(4, 3, 8, 8), torch.randint(5, (4,)))])
    scores = criterion.scorer(seed=0)(_conv1_group(grouped_net))
    assert scores.shape == (16,)
    assert torch.isfinite(scores).all()


def test_random_scores_are_seeded(grouped_net):
    group = _conv1_group(grouped_net)
    random = get_criterion("random")
    first, again = random.scorer(seed=3)(group), random.scorer(seed=3)(group)
    assert torch.equal(first, again)
    assert not torch.equal(first, random.scorer(seed=4)(group))


def test_taylor_gradients_cover_branches_the_batches_did_not_reach(aux_net):
    aux_net.eval()  # the aux head does not run: its parameters get zero gradients
    get_criterion("taylor").prepare(aux_net, [(torch.randn(4, 3, 8, 8), torch.randint(4, (4,)))])
    assert all(p.grad is not None for p in aux_net.parameters())
    assert torch.count_nonzero(aux_net.aux[2].weight.grad) == 0
    assert torch.count_nonzero(aux_net.conv1.weight.grad) > 0


def test_taylor_without_batches_is_an_error(aux_net):
    with pytest.raises(BenchError, match="no batches"):
        get_criterion("taylor").prepare(aux_net, [])


def _net_with_eight_weak_channels() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 8, 3), nn.Flatten(), nn.LazyLinear(4))
    net(torch.randn(1, 3, 8, 8))
    with torch.no_grad():
        net[0].weight[8:] *= 1e-3  # channels 8..15 barely contribute
    return net


def test_the_criterion_decides_which_channels_go():
    """l1 removes exactly the weak channels; the random control keeps some of them."""
    x = torch.randn(1, 3, 8, 8)
    by_l1 = prune_model(_net_with_eight_weak_channels(), ratio=0.5, example_inputs=x, criterion="l1", round_to=None)
    by_random = prune_model(
        _net_with_eight_weak_channels(), ratio=0.5, example_inputs=x, criterion="random", round_to=None
    )
    weakest = 1e-2 * _net_with_eight_weak_channels()[0].weight[:8].abs().sum(dim=(1, 2, 3)).min()
    l1_norms = by_l1.model[0].weight.abs().sum(dim=(1, 2, 3))
    random_norms = by_random.model[0].weight.abs().sum(dim=(1, 2, 3))
    assert len(l1_norms) == len(random_norms) == 8
    assert (l1_norms > weakest).all()  # only strong channels left
    assert (random_norms < weakest).any()
