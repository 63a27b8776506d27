"""Accuracy-aware int8 (``--max-drop P``): keep the layers int8 hurts most in float until the
int8 model's validation top-1 is at most P points below its float model's.

This is the accuracy-aware post-training mode of NNCF and Intel Neural Compressor, on FX:

1. The float model is calibrated once (:func:`compress.quantization.calibrate_int8`) and
   converted with every layer in int8. The caller's ``top1`` hook scores the float and the
   int8 model; it must evaluate on the *validation* split, never the test split (the test
   split reports the result, it must not choose it). Within P: done, no layer is float.
2. Sensitivity pass: for each quantizable layer (convolutions and linear layers, in graph
   order) the *same* calibrated model is converted with only that layer in float (convert
   skips it; nothing is calibrated again), and the mean KL divergence of its softmax from
   the float model's is measured on a small sample of validation images. A layer's
   sensitivity is how much keeping it float lowers that divergence from the all-int8 one.
3. The k most sensitive layers are kept float, k found by doubling (1, 2, 4, ...) until
   the validation drop is within P, then by bisection down to the smallest k that meets
   it; each k costs one conversion and one ``top1`` evaluation.

The cost is bounded by :class:`SearchLimits`: ``sample_images`` validation images per
sensitivity trial (128), at most ``max_layer_trials`` trials (256: every layer of the zoo's
deepest models) within ``time_limit_s`` (600 s; layers left unscored rank after the scored
ones, in graph order), and at most ``max_evaluations`` top-1 evaluations in all (16: the
float and all-int8 ones, then about 2 log2(layers)). When a limit stops the search before
the budget is met, the model with the highest top-1 found is returned and
:attr:`AccuracySearch.met` is False. Keeping every layer float may still not reach the
budget: int8 functional ops (residual additions, concatenations) stay int8.

The validation split's size sets how finely a drop can be seen: one image of 180 is 0.56
points, so on digits ``--max-drop 0.5`` allows no validation image lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from compress.quantization import Calibrated, QuantResult, convert_int8, quantizable_layers

DEFAULT_MAX_DROP = 0.5  # top-1 points: the budget the report picks variants within when --max-drop is not given
NO_DROP_LIMIT = 100.0  # top-1 cannot fall by more: a budget this large needs no evaluation
_SLACK = 1e-9  # a drop of exactly max_drop points is within it

Top1 = Callable[[nn.Module], float]


@dataclass(frozen=True)
class SearchLimits:
    """What one search may spend (see the module docstring)."""

    sample_images: int = 128
    max_layer_trials: int = 256
    max_evaluations: int = 16
    time_limit_s: float = 600.0


@dataclass(frozen=True)
class AccuracyBudget:
    """``max_drop`` top-1 points; ``top1(model)``: validation top-1 in percent; ``sample``:
    batches of validation images (inputs only) for the sensitivity pass."""

    max_drop: float
    top1: Top1
    sample: Sequence[torch.Tensor]
    limits: SearchLimits = field(default_factory=SearchLimits)


@dataclass
class AccuracySearch:
    """How an accuracy-aware int8 model was found (stored with the run as plain data)."""

    max_drop: float
    reference_top1: float  # the float model's validation top-1
    int8_top1: float  # every layer in int8
    top1: float  # the returned model's
    float_layers: tuple[str, ...]
    met: bool
    evaluations: int  # top-1 evaluations, the float and all-int8 ones included
    layer_trials: int  # sensitivity conversions
    layers: int  # quantizable layers
    sensitivity: dict[str, float]  # layer -> divergence removed by keeping it float, most first
    stopped: str | None  # the limit that cut the search short, or None
    seconds: float

    @property
    def drop(self) -> float:
        return self.reference_top1 - self.top1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["float_layers"] = list(self.float_layers)
        return data


def quantize_within(
    float_model: nn.Module, calibrated: Calibrated, budget: AccuracyBudget, full: QuantResult | None = None
) -> tuple[QuantResult, AccuracySearch | None]:
    """The int8 model of ``calibrated`` (from ``float_model``) with the fewest most-sensitive
    layers in float that keeps the validation drop within ``budget.max_drop``. ``full`` is
    the all-int8 conversion when the caller has it. The search is None when the budget is
    too large to need an evaluation (the all-int8 model is returned)."""
    full = full if full is not None else convert_int8(calibrated)
    if budget.max_drop >= NO_DROP_LIMIT:
        return full, None
    return _Search(float_model, calibrated, budget).run(full)


class _Search:
    def __init__(self, float_model: nn.Module, calibrated: Calibrated, budget: AccuracyBudget) -> None:
        self.float_model, self.calibrated, self.budget = float_model, calibrated, budget
        self.limits = budget.limits
        self.start = time.perf_counter()
        self.evaluations = 0
        self.stopped: str | None = None
        self.reference = 0.0  # the float model's top-1, set first thing in run()

    def top1(self, model: nn.Module) -> float:
        self.evaluations += 1
        return float(self.budget.top1(model))

    def within(self, top1: float) -> bool:
        return self.reference - top1 <= self.budget.max_drop + _SLACK

    def run(self, full: QuantResult) -> tuple[QuantResult, AccuracySearch]:
        self.reference = self.top1(self.float_model)
        full_top1 = self.top1(full.model)
        layers = quantizable_layers(self.calibrated)
        sensitivity: dict[str, float] = {}
        best, best_top1 = full, full_top1
        if not self.within(full_top1) and layers:
            sensitivity = self.sensitivity(layers, full)
            ranked = list(sensitivity) + [name for name in layers if name not in sensitivity]
            best, best_top1 = self.smallest_within(ranked, full, full_top1)
        result = AccuracySearch(
            max_drop=self.budget.max_drop,
            reference_top1=self.reference,
            int8_top1=full_top1,
            top1=best_top1,
            float_layers=best.float_layers,
            met=self.within(best_top1),
            evaluations=self.evaluations,
            layer_trials=len(sensitivity),
            layers=len(layers),
            sensitivity=sensitivity,
            stopped=self.stopped,
            seconds=time.perf_counter() - self.start,
        )
        return best, result

    def sensitivity(self, layers: Sequence[str], full: QuantResult) -> dict[str, float]:
        """Divergence removed by keeping each layer float, most sensitive first (stable)."""
        sample = [batch.cpu() for batch in self.budget.sample]
        if not sample:
            self.stopped = "no validation images to rank layers on"
            return {}
        reference = _log_probs(self.float_model, sample)
        all_int8 = _divergence(reference, _log_probs(full.model, sample))
        scores: dict[str, float] = {}
        for name in layers:
            if len(scores) >= self.limits.max_layer_trials:
                self.stopped = f"max_layer_trials ({self.limits.max_layer_trials})"
                break
            if time.perf_counter() - self.start > self.limits.time_limit_s:
                self.stopped = f"time_limit_s ({self.limits.time_limit_s:g} s)"
                break
            trial = convert_int8(self.calibrated, (name,))
            scores[name] = all_int8 - _divergence(reference, _log_probs(trial.model, sample))
        return dict(sorted(scores.items(), key=lambda item: -item[1]))

    def smallest_within(self, ranked: list[str], full: QuantResult, full_top1: float) -> tuple[QuantResult, float]:
        """Doubling, then bisection, on k (the top-k ranked layers float); the smallest k
        found within the budget, else the best top-1 seen (fewest layers on ties). Only the
        two candidate models are kept, not every one tried (int8 VGG-16 is 130 MB)."""
        passing: tuple[int, QuantResult, float] | None = None
        best_failing: tuple[int, QuantResult, float] = (0, full, full_top1)

        def attempt(k: int) -> bool | None:
            nonlocal passing, best_failing
            if self.evaluations >= self.limits.max_evaluations:
                self.stopped = f"max_evaluations ({self.limits.max_evaluations})"
                return None
            quant = convert_int8(self.calibrated, ranked[:k])
            top1 = self.top1(quant.model)
            if self.within(top1):
                if passing is None or k < passing[0]:
                    passing = (k, quant, top1)
                return True
            if top1 > best_failing[2]:
                best_failing = (k, quant, top1)
            return False

        failing, k = 0, 1
        while passing is None and k <= len(ranked):  # doubling: 1, 2, 4, ..., every layer
            outcome = attempt(k)
            if outcome is None:
                break
            if not outcome:
                failing = k
                k = len(ranked) if k < len(ranked) < 2 * k else 2 * k
        while passing is not None and passing[0] - failing > 1:  # bisection in (failing, passing]
            middle = (failing + passing[0]) // 2
            outcome = attempt(middle)
            if outcome is None:
                break
            if not outcome:
                failing = middle
        chosen = passing if passing is not None else best_failing
        return chosen[1], chosen[2]


@torch.no_grad()
def _log_probs(model: nn.Module, batches: Sequence[torch.Tensor]) -> torch.Tensor:
    """log-softmax of ``model`` on ``batches`` (on the model's device; eval mode, restored)."""
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        outputs = [model(batch.to(device)).float().cpu() for batch in batches]
    finally:
        model.train(was_training)
    return F.log_softmax(torch.cat(outputs), dim=1)


def _divergence(reference: torch.Tensor, candidate: torch.Tensor) -> float:
    """Mean KL(reference || candidate) per image, from log-probabilities."""
    return float(F.kl_div(candidate, reference, reduction="batchmean", log_target=True).item())
