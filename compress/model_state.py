"""Running a model for analysis without changing it: the helpers pruning and quantization share.

Tracing a model in train mode (so auxiliary heads and every training-only branch run)
updates batch-norm running statistics and flips training flags; :func:`preserved_state`
puts both back. The other helpers answer small questions about a model: what tensors its
output holds, what shapes they have, how many parameters and MACs it has.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from bench.profiling.complexity import count_macs


def output_tensors(outputs: Any) -> list[torch.Tensor]:
    """The tensors in a model's output: a tensor, or a (named) tuple/list/dict with aux heads."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in output_tensors(item)]
    return []  # None (an aux head switched off) or anything else carries no logits


@contextlib.contextmanager
def preserved_state(model: nn.Module, *, train: bool | None = None) -> Iterator[nn.Module]:
    """Run ``model`` (in train mode if ``train``) and restore its buffers and training flags.

    Batch-norm running statistics and ``num_batches_tracked`` are copied back in place, so
    a train-mode trace or gradient pass leaves the model as it found it.
    """
    flags = [(module, module.training) for module in model.modules()]
    saved = {name: buf.detach().clone() for name, buf in model.named_buffers()}
    if train is not None:
        model.train(train)
    try:
        yield model
    finally:
        with torch.no_grad():
            for name, buf in model.named_buffers():
                if name in saved and saved[name].shape == buf.shape:
                    buf.copy_(saved[name])
        for module, training in flags:
            module.training = training


def batch_of_two(example_inputs: torch.Tensor) -> torch.Tensor:
    """At least two samples: batch norm in train mode needs more than one value per channel."""
    if example_inputs.shape[0] >= 2:
        return example_inputs
    return example_inputs.repeat(2, *([1] * (example_inputs.dim() - 1)))


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_image(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs per image (batch 1, eval mode; convolutions and linear layers), cnnbench's convention."""
    device = next(itertools.chain(model.parameters(), model.buffers())).device
    return count_macs(model, tuple(input_shape), device=device).macs  # type: ignore[arg-type]
