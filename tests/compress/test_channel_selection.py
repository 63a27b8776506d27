"""Channel selection: kept widths, rounding and the equal slices of grouped convolutions."""

from __future__ import annotations

import pytest
import torch

from compress.channel_selection import kept_channels
from compress.pruning import prune_model


@pytest.mark.parametrize(
    ("keep", "width", "unit", "kept"),
    [
        (3.0, 6, 8, 3),  # narrower than round_to: the exact count
        (8.0, 16, 8, 8),
        (60.0, 120, 8, 64),  # 7.5 units round half up
        (59.0, 120, 8, 56),
        (6.0, 12, 8, 6),
        (0.2, 10, 1, 1),  # never a whole layer
        (12.0, 12, 8, 12),  # never wider than the layer
        (2.0, 4, 1, 2),
    ],
)
def test_kept_channels_rounding(keep, width, unit, kept):
    assert kept_channels(keep, width, unit) == kept


def test_grouped_convolution_loses_the_same_positions_in_every_group(grouped_net):
    """Channel tags in the batch-norm statistics show which channels survived."""
    with torch.no_grad():
        grouped_net.bn2.running_mean.copy_(torch.arange(16.0))
    original_w = grouped_net.conv2.weight.detach().clone()
    result = prune_model(grouped_net, ratio=0.5, example_inputs=torch.randn(1, 3, 8, 8), round_to=None)
    conv2 = grouped_net.conv2
    assert (conv2.groups, conv2.in_channels, conv2.out_channels) == (4, 8, 8)
    kept = grouped_net.bn2.running_mean.long().tolist()  # the tags survive: stats are restored
    positions = [sorted(t % 4 for t in kept if t // 4 == g) for g in range(4)]
    assert all(p == positions[0] for p in positions) and len(positions[0]) == 2
    kept_inputs = [p for p in range(4) if p in positions[0]]  # conv1 -> conv2 follows the same rule
    torch.testing.assert_close(conv2.weight, original_w[kept][:, kept_inputs])
    assert result.model(torch.randn(2, 3, 8, 8)).shape == (2, 5)


def test_round_to_counts_the_whole_grouped_width(grouped_net):
    prune_model(grouped_net, ratio=0.5, example_inputs=torch.randn(1, 3, 8, 8), round_to=8)
    assert grouped_net.conv2.out_channels % 8 == 0 and grouped_net.conv2.groups == 4


def test_global_pruning_at_a_tiny_ratio_removes_nothing(grouped_net):
    result = prune_model(
        grouped_net, ratio=0.01, example_inputs=torch.randn(1, 3, 8, 8), global_pruning=True, round_to=None
    )
    assert all(w.before == w.after for w in result.widths) and result.groups_pruned == 0
