"""Channel importance criteria for structured pruning, as small strategy objects chosen by name.

Each criterion scores the channels of a torch-pruning dependency group (all layers whose
channels must be removed together) and returns one score per channel; the lowest-scoring
channels are removed. Most scores come from torch-pruning's importance classes; what a
criterion adds is its name, a one-line summary and, for ``taylor``, the loss gradients it
needs before scoring (:meth:`Criterion.prepare`).

``random`` is the control: a criterion that does no better than it is not worth its cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from bench.errors import BenchError, suggest
from compress.model_state import output_tensors
from compress.tp_import import tp

DEFAULT_CRITERION = "l1"


class Criterion(ABC):
    """A named way of scoring channels; :meth:`scorer` returns a torch-pruning Importance."""

    name: ClassVar[str]
    summary: ClassVar[str]
    needs_batches: ClassVar[bool] = False  # True: prepare() runs the model on data first

    @abstractmethod
    def scorer(self, *, seed: int = 0) -> Any:
        """The ``tp.importance.Importance`` that scores a group (one value per channel)."""

    def prepare(self, model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Get the model ready for scoring (e.g. accumulate gradients); most criteria need nothing."""
        return None


_CRITERIA: dict[str, type[Criterion]] = {}


def register_criterion(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator adding a criterion to the registry under ``cls.name``."""
    if cls.name in _CRITERIA:
        raise ValueError(f"pruning criterion {cls.name!r} is already registered")
    _CRITERIA[cls.name] = cls
    return cls


def list_criteria() -> list[str]:
    """The registered criterion names, default first."""
    return sorted(_CRITERIA, key=lambda n: (n != DEFAULT_CRITERION, n))


def get_criterion(name: str) -> Criterion:
    """A fresh criterion object for ``name``; unknown names raise with the close ones."""
    key = (name or DEFAULT_CRITERION).strip().lower()
    if key not in _CRITERIA:
        raise BenchError(
            f"unknown pruning criterion {name!r}{suggest(key, _CRITERIA)}",
            f"choose one of {', '.join(list_criteria())}",
        )
    return _CRITERIA[key]()


@register_criterion
class L1Criterion(Criterion):
    name = "l1"
    summary = "L1 norm of each channel's weights across the group (mean-normalized per layer)"

    def scorer(self, *, seed: int = 0) -> Any:
        return tp.importance.GroupMagnitudeImportance(p=1)


@register_criterion
class L2Criterion(Criterion):
    name = "l2"
    summary = "squared L2 norm of each channel's weights across the group"

    def scorer(self, *, seed: int = 0) -> Any:
        return tp.importance.GroupMagnitudeImportance(p=2)


@register_criterion
class BNScaleCriterion(Criterion):
    name = "bn-scale"
    summary = "|gamma| of the batch-norm layers (network slimming); needs batch norm"

    def scorer(self, *, seed: int = 0) -> Any:
        return tp.importance.BNScaleImportance()


@register_criterion
class LAMPCriterion(Criterion):
    name = "lamp"
    summary = "layer-adaptive magnitude scores (LAMP); mostly matters for global pruning"

    def scorer(self, *, seed: int = 0) -> Any:
        return tp.importance.LAMPImportance(p=2)


@register_criterion
class FPGMCriterion(Criterion):
    name = "fpgm"
    summary = "distance to the other filters (geometric median): removes redundant filters"

    def scorer(self, *, seed: int = 0) -> Any:
        return FilterDistanceImportance()


@register_criterion
class RandomCriterion(Criterion):
    name = "random"
    summary = "seeded random scores: the control that shows whether a criterion matters"

    def scorer(self, *, seed: int = 0) -> Any:
        return SeededRandomImportance(seed)


@register_criterion
class TaylorCriterion(Criterion):
    name = "taylor"
    summary = "|weight x loss gradient| (first-order Taylor); needs a few batches"
    needs_batches = True

    def scorer(self, *, seed: int = 0) -> Any:
        return tp.importance.GroupTaylorImportance()

    def prepare(self, model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Accumulate cross-entropy gradients over ``batches``, main and auxiliary outputs alike.

        Parameters that got no gradient (a branch the batches did not reach) get zeros, so
        every layer of a group can be scored.
        """
        model.zero_grad(set_to_none=True)
        seen = 0
        for inputs, labels in batches:
            loss = sum(nn.functional.cross_entropy(out, labels) for out in output_tensors(model(inputs)))
            loss.backward()
            seen += 1
        if seen == 0:
            raise BenchError("taylor importance got no batches", "pass grad_batches or use l1")
        for param in model.parameters():
            if param.grad is None:
                param.grad = torch.zeros_like(param)


class FilterDistanceImportance(tp.importance.GroupMagnitudeImportance):
    """FPGM (He et al., CVPR 2019): a filter near the geometric median of its layer is redundant.

    Scores each output filter of the group's convolutions and linear layers by its summed
    Euclidean distance to the other filters. torch-pruning's ``FPGMImportance`` also scores
    input slices and fails on grouped convolutions (ResNeXt), hence this version.
    """

    _OUT_FNS = (tp.prune_conv_out_channels, tp.prune_linear_out_channels)

    def __init__(self) -> None:
        super().__init__(p=2, group_reduction="mean", normalizer="mean")

    @torch.no_grad()
    def __call__(self, group: Any) -> torch.Tensor | None:
        scores, root_idxs = [], []
        for item in group:
            dep, idxs = item.dep, item.idxs
            if dep.pruning_fn not in self._OUT_FNS:
                continue
            weight = dep.layer.weight.data
            if getattr(dep.layer, "transposed", False):
                weight = weight.transpose(0, 1)
            filters = weight[idxs].flatten(1).float()
            scores.append(torch.cdist(filters[None], filters[None])[0].sum(0))
            root_idxs.append(item.root_idxs)
        if not scores:
            return None
        return self._normalize(self._reduce(scores, root_idxs), self.normalizer)


class SeededRandomImportance:
    """Random channel scores from its own generator: reproducible, leaves torch's RNG alone."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, group: Any) -> torch.Tensor:
        _, idxs = group[0]
        return torch.rand(len(idxs), generator=self.generator)
