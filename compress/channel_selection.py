"""Which channels each dependency group of torch-pruning's graph loses.

A group is every layer that must lose the same channels (see :mod:`compress.pruning`).
:func:`score_groups` scores all groups before anything changes; :func:`prune_groups` turns
a ratio into a kept width per group, rounded by :func:`kept_channels`, and removes the
lowest-scoring channels. Grouped convolutions (ResNeXt) come in equal slices, one per
convolution group: scores are averaged over the slices and every slice loses the same
positions, so the groups stay equal and the kept width stays a multiple of the group count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

PRUNABLE_ROOTS = (nn.modules.conv._ConvNd, nn.Linear)


@dataclass
class ScoredGroup:
    """One dependency group: its root layer, scores per channel position, channel slices."""

    module: nn.Module
    handler: Any
    slices: int  # grouped convolutions: channels come in this many equal slices
    scores: torch.Tensor  # one score per position within a slice

    @property
    def slice_width(self) -> int:
        return len(self.scores)


def kept_channels(keep: float, width: int, unit: int) -> int:
    """Channels kept out of ``width`` when ``keep`` (exact, fractional) should stay.

    Rounds half up to a multiple of ``unit``, unless ``keep`` is below ``unit`` (the exact
    count is kept then); never below 1 nor above ``width``.
    """
    kept = unit * math.floor(keep / unit + 0.5) if keep >= unit else math.floor(keep + 0.5)
    return min(width, max(1, kept))


def score_groups(graph: Any, scorer: Any, ignored: list[nn.Module]) -> tuple[list[ScoredGroup], int]:
    """Score every prunable group once, before anything is pruned."""
    candidates: list[ScoredGroup] = []
    unscored = 0
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=PRUNABLE_ROOTS):
        scores = scorer(group)
        if scores is None:
            unscored += 1
            continue
        slices = _channel_slices(graph, group)
        per_position = scores.detach().float().cpu().view(slices, -1).mean(0)
        root = group[0].dep
        candidates.append(ScoredGroup(root.target.module, root.handler, slices, per_position))
    return candidates, unscored


def _channel_slices(graph: Any, group: Any) -> int:
    """How many equal slices the group's channels come in (grouped convolutions), else 1."""
    slices = 1
    for dep, _ in group:
        module = dep.target.module
        pruner = graph.get_pruner_of_module(module)
        if pruner is None or (isinstance(module, nn.modules.conv._ConvNd) and module.groups == module.out_channels):
            continue  # depthwise convolutions follow their input one to one
        if graph.is_out_channel_pruning_fn(dep.handler):
            slices = max(slices, pruner.get_out_channel_groups(module))
        elif graph.is_in_channel_pruning_fn(dep.handler):
            slices = max(slices, pruner.get_in_channel_groups(module))
    return slices


def prune_groups(
    graph: Any, candidates: list[ScoredGroup], ratio: float, global_pruning: bool, round_to: int | None
) -> int:
    """Decide each group's kept width, remove its lowest-scoring channels; return groups pruned."""
    if global_pruning:
        everything = torch.cat([c.scores for c in candidates])
        n_removed = len(everything) - math.floor(len(everything) * (1 - ratio) + 0.5)
        threshold = torch.kthvalue(everything, n_removed).values if n_removed > 0 else -math.inf
        keeps = [c.slice_width - int((c.scores <= threshold).sum()) for c in candidates]
    else:
        keeps = [c.slice_width * (1 - ratio) for c in candidates]
    pruned = 0
    for candidate, keep in zip(candidates, keeps):
        unit = math.lcm(candidate.slices, round_to) // candidate.slices if round_to else 1
        pruned += keep_lowest_removed(graph, candidate, kept_channels(keep, candidate.slice_width, unit))
    return pruned


def keep_lowest_removed(graph: Any, candidate: ScoredGroup, kept: int) -> int:
    """Remove the group's lowest-scoring positions so ``kept`` stay per slice; 1 if pruned, else 0.

    Shared by ratio pruning and latency-aware pruning (explicit widths), so both select the
    same channels for the same width.
    """
    if kept >= candidate.slice_width:
        return 0
    removed = torch.argsort(candidate.scores)[: candidate.slice_width - max(1, kept)].tolist()
    idxs = sorted(i + s * candidate.slice_width for s in range(candidate.slices) for i in removed)
    group = graph.get_pruning_group(candidate.module, candidate.handler, idxs)
    if not graph.check_pruning_group(group):
        return 0
    group.prune()
    return 1
