"""Helpers that run a model for analysis must leave it exactly as they found it."""

from __future__ import annotations

import torch

from compress.model_state import batch_of_two, output_tensors, preserved_state


def test_preserved_state_restores_batch_norm_statistics_and_training_flags(aux_net):
    aux_net.eval()
    aux_net.aux.train()  # mixed flags must come back as they were
    before = {k: v.clone() for k, v in aux_net.state_dict().items()}
    with preserved_state(aux_net, train=True):
        assert aux_net.training and aux_net.bn1.training
        aux_net(torch.randn(4, 3, 8, 8))
        assert int(aux_net.bn1.num_batches_tracked) == 1
    assert all(torch.equal(before[k], v) for k, v in aux_net.state_dict().items())
    assert not aux_net.training and not aux_net.bn1.training and aux_net.aux.training


def test_output_tensors_flattens_aux_outputs_and_drops_missing_heads():
    a, b = torch.zeros(1), torch.ones(2)
    assert output_tensors(a)[0] is a
    assert [t.shape for t in output_tensors((a, None, [b]))] == [(1,), (2,)]
    assert len(output_tensors({"logits": a, "aux": b})) == 2
    assert output_tensors(None) == []


def test_batch_of_two_repeats_a_single_sample():
    single = torch.randn(1, 3, 4, 4)
    doubled = batch_of_two(single)
    assert doubled.shape == (2, 3, 4, 4) and torch.equal(doubled[1], single[0])
    three = torch.randn(3, 1)
    assert batch_of_two(three) is three
