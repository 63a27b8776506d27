"""Transfer learning: which parameters a fine-tune may change (``--freeze backbone|none|N``).

``backbone`` trains only the classifier (``ModelSpec.classifier``) and any head whose weights
were re-initialised because they did not fit (a classifier for another class count, VGG's
small-input head); ``N`` freezes the first N stages (:mod:`bench.zoo.stages`: runs of blocks
at one spatial size, so ResNet-20 has three, LeNet-5 three, VGG one per pooling), everything
after them trains; ``none`` fine-tunes every layer. The classifier always trains, even where
it is a convolution inside the last stage (NiN).

Freezing is done the way torchvision's and timm's fine-tuning recipes do it: frozen
parameters get ``requires_grad=False`` (so the optimizer never sees them and weight decay
cannot touch them), and batch norms whose parameters are all frozen stay in eval mode while
the rest trains (:func:`set_train_mode`), so their running statistics are frozen too and the
frozen layers compute exactly what they computed before. Batch norms without affine
parameters have nothing to tell them apart and train as usual (the zoo has none).

:func:`frozen` applies a freeze for the length of a ``with`` block and restores every flag
after it: the trained model that comes out is an ordinary model (a pruned variant of it
fine-tunes every layer), and the trainable names record what was trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from bench.errors import BenchError
from bench.zoo.spec import ModelSpec
from bench.zoo.stages import stage_runs

FREEZE_MODES = ("none", "backbone")


@dataclass(frozen=True)
class Freeze:
    """A parsed ``--freeze``: ``none``, ``backbone``, or the first ``stages`` stages."""

    mode: str  # none, backbone or stages
    stages: int = 0

    @property
    def label(self) -> str:
        """The flag's value: ``none``, ``backbone`` or ``N`` (what the checkpoint key records)."""
        return str(self.stages) if self.mode == "stages" else self.mode


def parse_freeze(text: str) -> Freeze:
    """``"backbone"`` | ``"none"`` | ``"N"`` (N >= 0; 0 is ``none``) -> :class:`Freeze`."""
    value = (text or "").strip().lower()
    if value in FREEZE_MODES:
        return Freeze(value)
    if value.isascii() and value.isdigit():
        count = int(value)
        return Freeze("stages", count) if count else Freeze("none")
    raise BenchError(
        f"--freeze {text!r} is not backbone, none or a stage count",
        "pass --freeze backbone (train the classifier only), --freeze none, or --freeze N (the first N stages)",
    )


def check_start(freeze: Freeze | None, weights: object) -> None:
    """A freeze needs weights to start from: frozen random layers would compute nothing useful."""
    if freeze is not None and not weights:
        raise BenchError(
            f"--freeze {freeze.label} needs weights to start from (frozen layers would stay random)",
            "add --weights pretrained or --weights PATH (a trained state dict or checkpoint)",
        )


@dataclass(frozen=True)
class FreezePlan:
    """The parameters a fine-tune holds fixed: those under ``modules`` but not under ``keep``."""

    modules: tuple[str, ...]
    keep: tuple[str, ...] = ()

    def freezes(self, parameter: str) -> bool:
        return _under(parameter, self.modules) and not _under(parameter, self.keep)


def plan_freeze(model: nn.Module, spec: ModelSpec, freeze: Freeze, *, trainable: Iterable[str] = ()) -> FreezePlan:
    """What ``freeze`` holds fixed in ``model``; the classifier and ``trainable`` (re-initialised
    heads) always train. ``N`` past the model's last stage is a BenchError naming the count."""
    keep = tuple(dict.fromkeys([*spec.classifier, *trainable]))
    if freeze.mode == "none":
        return FreezePlan((), keep)
    if freeze.mode == "backbone":
        return FreezePlan(tuple(name for name, _ in model.named_children()), keep)
    example = torch.zeros(1, *model.bench_cfg.input_size, device=next(model.parameters()).device)
    runs = stage_runs(model, example)
    if freeze.stages > len(runs):
        raise BenchError(
            f"--freeze {freeze.stages}: {spec.name} has {len(runs)} stages",
            f"pass --freeze 1 to {len(runs)}, backbone or none",
        )
    return FreezePlan(tuple(block for run in runs[: freeze.stages] for block in run.blocks), keep)


def _under(parameter: str, modules: Iterable[str]) -> bool:
    return any(parameter.startswith(module + ".") for module in modules)


@contextmanager
def frozen(model: nn.Module, plan: FreezePlan) -> Iterator[list[str]]:
    """Freeze what ``plan`` names inside the block; yields the names of the parameters left
    trainable. Every ``requires_grad`` flag is restored afterwards."""
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    try:
        for name, parameter in model.named_parameters():
            if plan.freezes(name):
                parameter.requires_grad_(False)
        yield trainable_parameters(model)
    finally:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(before.get(name, True))


def trainable_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters an optimizer built now would train."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def set_train_mode(model: nn.Module) -> None:
    """``model.train()``, except batch norms whose parameters are all frozen, which stay in eval."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            own = list(module.parameters(recurse=False))
            if own and not any(p.requires_grad for p in own):
                module.eval()


def trained_layers(model: nn.Module, trainable: Iterable[str]) -> list[str]:
    """The fewest module names that cover exactly the ``trainable`` parameters (for reports):
    ``["layer3", "fc"]`` rather than every tensor of both; top-level modules at the widest."""
    chosen = set(trainable)
    names: list[str] = []
    for module_name, module in model.named_modules():
        if not module_name or any(module_name.startswith(n + ".") for n in names):
            continue
        own = [f"{module_name}.{p}" for p, _ in module.named_parameters()]
        if own and all(p in chosen for p in own):
            names.append(module_name)
    return names
