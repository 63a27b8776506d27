"""A model's convolutional *stages*: the one definition that feature maps and ``--freeze N`` share.

One rule for every family, in the spirit of timm's feature pyramid (one map per stride): a
stage is a run of consecutive blocks that produce maps of the same spatial size and contain
a convolution, and its feature map is the output of the run's last block. Blocks are the
model's top-level children, with top-level ``nn.Sequential`` containers opened one level
(VGG's and LeNet's ``features``, ResNet's ``layer1``..``layer4``, DenseNet's blocks), so a
Sequential's own output is reported under its name (``layer1``), after its last child (its
convolutions count in its children's runs, not again in the run where it finishes). This
gives LeNet-5 its C1, C3 and C5 stages, ResNet-20 its three 16-32-64 stages (the stem runs
at the first stage's size and belongs to it), VGG one stage per pooling, GoogLeNet and
Inception-v3 one per resolution of their inception modules.

:func:`stage_runs` returns every stage with all the blocks that finished since the previous
stage ended (blocks without a convolution, such as a pooling between two stages, join the
next stage), so "the first N stages" is a prefix of the forward pass. Consumers narrow it
for their purpose: the feature-map figures drop 1x1 maps and spread at most eight stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StageRun:
    """One stage: the blocks (dotted module names, in the order they finished) and its map's (C, H, W)."""

    blocks: tuple[str, ...]
    shape: tuple[int, int, int]

    @property
    def name(self) -> str:
        """The stage's last block: the module whose output is the stage's feature map."""
        return self.blocks[-1]


def candidate_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """Top-level children, and the children of top-level Sequentials (which stay candidates too)."""
    blocks: dict[str, nn.Module] = {}
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential):
            blocks.update({f"{name}.{inner}": module for inner, module in child.named_children()})
        blocks[name] = child  # after its children: a Sequential finishes after its last child
    return blocks


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


@contextmanager
def recording(
    modules: dict[str, nn.Module], *, keep_tensors: bool
) -> Iterator[list[tuple[str, torch.Tensor | torch.Size]]]:
    """Record (name, 4-d output) of ``modules`` in the order they finish, during the block.

    Outputs are cloned when kept: later in-place operations (ReLU(inplace=True), ``+=``)
    must not change what was recorded. Otherwise only their shapes are kept.
    """
    events: list[tuple[str, torch.Tensor | torch.Size]] = []

    def hook(name: str):
        def record(_module: nn.Module, _inputs: object, output: object) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                events.append((name, output.detach().clone() if keep_tensors else output.shape))

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        yield events
    finally:
        for handle in handles:
            handle.remove()


def stage_runs(model: nn.Module, example: torch.Tensor) -> list[StageRun]:
    """Every stage of ``model`` (module doc), found with one eval-mode forward pass of ``example``."""
    blocks = candidate_blocks(model)
    opened = {name for name, child in model.named_children() if isinstance(child, nn.Sequential)}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), recording(blocks, keep_tensors=False) as events:
            model(example[:1].to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    stages: list[StageRun] = []
    pending: list[str] = []  # blocks finished since the last stage closed
    run_size: tuple[int, int] | None = None
    run_has_conv = False
    last_shape = (0, 0, 0)
    for name, shape in events:
        size = (shape[2], shape[3])
        if size != run_size:
            if run_has_conv:
                stages.append(StageRun(tuple(pending), last_shape))
                pending = []
            run_size, run_has_conv = size, False
        pending.append(name)
        # an opened Sequential's convolutions were counted with its children, in their runs
        run_has_conv = run_has_conv or (name not in opened and has_conv(blocks[name]))
        last_shape = (shape[1], shape[2], shape[3])
    if run_has_conv:
        stages.append(StageRun(tuple(pending), last_shape))
    return stages
