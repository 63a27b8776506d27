"""What narrowing a group costs in loss: the accuracy side of latency-aware pruning's search.

The l1 share of a group's channels removed (``GroupRow.importance_lost``) compares channels
within a group, not groups with each other: a stage's residual channels and a block's inner
channels can lose the same share at very different cost to the network. Where labelled
images are at hand (`bench run`'s trained models), :func:`loss_increase` measures that cost
directly, NetAdapt's way without its short fine-tuning: the model with one group narrowed to
each width of the latency table (the same copies, :class:`compress.pruning.Narrower`) is
evaluated on a few training images, and the rise of its mean cross-entropy over the full
model's is the group's loss at that width. The search then orders narrowings by latency
saved per loss added (:meth:`compress.latency_search.GroupRow.importance_lost`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from compress.model_state import preserved_state
from compress.pruning import Narrower


def mean_loss(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean cross-entropy of ``model`` (eval mode, no gradients) over labelled ``batches``."""
    total, count = 0.0, 0
    with preserved_state(model, train=False), torch.inference_mode():
        for images, labels in batches:
            logits = model(images)
            total += float(F.cross_entropy(logits, labels, reduction="sum"))
            count += len(labels)
    return total / max(count, 1)


def loss_increase(
    model: nn.Module,
    example_inputs: torch.Tensor,
    widths: Mapping[str, Sequence[int]],
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    criterion: str,
) -> dict[str, tuple[tuple[int, float], ...]]:
    """Per group, (kept width, loss rise over the full model) for each width in ``widths``."""
    base = mean_loss(model, batches)
    narrower = Narrower(model, example_inputs[:1], criterion=criterion)
    return {
        name: tuple((kept, max(0.0, mean_loss(narrower.narrowed(name, kept), batches) - base)) for kept in kept_widths)
        for name, kept_widths in widths.items()
    }
