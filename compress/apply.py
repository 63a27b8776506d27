"""The one entry point from a model and a variant to the compressed model to measure.

`bench profile` (untrained what-ifs) and :mod:`bench.provider` (trained models for `bench run`
and `bench viz`) both call :func:`apply_variant`. What differs between them is passed in as
hooks, never branched on here:

* ``cache`` (:class:`PrunedCache`): consulted before pruning and filled after fine-tuning,
  by :func:`prune_key` (the ratio, or the latency goal ``speedup:2``); the provider's keeps
  pruned models in memory and on disk, `bench profile` keeps none;
* ``latency`` (:class:`compress.latency_prune.LatencySettings`): where and how a latency-aware
  variant (``pruned-2x``) measures: device, batch size, threads, the latency table's budget
  and cache directory; ``latency_timer`` replaces the real timer (tests);
* ``finetune(pruned_model)``: runs on a freshly pruned model; what it returns (the
  provider's accuracy before and after, history) travels with the model, cache included;
* ``calib_batches``: real training images for int8, or none for seeded random inputs (the
  row's ``calibration`` says which: ``"512 training images"`` or ``"512 random inputs"``);
* ``phase(name)``: a context manager around the prune and quantize steps (the provider's
  phase clock), and the accuracy-aware search (``int8 search``);
* ``accuracy`` (:class:`compress.sensitivity.AccuracyBudget`): int8 keeps its most sensitive
  layers in float until the validation top-1 is within ``max_drop`` points of the float
  model's (``CompressedModel.search`` says how); None quantizes every layer.

int8 is torch.ao's FX PTQ (the ``engine``); on a torch without ``torch.ao.quantization``'s FX
it is torchao's pt2e (:mod:`compress.pt2e`), whose ``QuantResult.engine`` says so.

``pruned-2x`` goes through the same path as ``pruned-50``: the cache, then
:func:`compress.latency_prune.prune_to_target` in place of :func:`compress.pruning.prune_model`
(its :class:`~compress.latency_prune.LatencyPruning`, with the measured speedup and the widths,
travels with the model as :attr:`Pruned.latency`, cache included), then the same fine-tuning.

``pruned-50+int8`` is prune, fine-tune, then quantize the fine-tuned pruned model; the steps
stay callable on their own (:func:`compress.pruning.prune_model`,
:func:`compress.quantization.quantize_int8`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from compress.importance import DEFAULT_CRITERION
from compress.latency_prune import LatencyPruning, LatencySettings, prune_to_target
from compress.latency_table import Timer
from compress.pruning import DEFAULT_ROUND_TO, PruneResult, prune_model
from compress.pt2e import PT2E_ENGINE, quantize_pt2e
from compress.quantization import (
    DEFAULT_CALIBRATION_IMAGES,
    DEFAULT_ENGINE,
    QuantResult,
    calibrate_int8,
    check_engine,
    convert_int8,
    fx_available,
    random_calibration_batches,
)
from compress.sensitivity import AccuracyBudget, AccuracySearch, quantize_within
from compress.variants import Variant, parse_variant

REAL_CALIBRATION = "training images"  # what ``calib_batches`` are: the training split, eval transforms
RANDOM_CALIBRATION = "random inputs"

Finetune = Callable[[nn.Module], Any]
PhaseHook = Callable[[str], AbstractContextManager[Any]]
PruneKey = float | str  # a channel ratio (0.5), or a latency goal's canonical text (speedup:2)


@dataclass
class Pruned:
    """A pruned float model: ``prune`` says what ratio pruning did now, ``latency`` what
    latency-aware pruning did (kept with the model, cache included), ``finetuned`` is what the
    ``finetune`` hook returned for it (None without one)."""

    model: nn.Module
    prune: PruneResult | None = None
    finetuned: Any = None
    latency: LatencyPruning | None = None


class PrunedCache(Protocol):
    """Pruned (and fine-tuned) float models kept between builds, by :func:`prune_key`."""

    def load(self, key: PruneKey) -> Pruned | None:
        """The kept model of ``key``, or None (then it is pruned now, then :meth:`save` d)."""

    def save(self, key: PruneKey, pruned: Pruned) -> None: ...


class NoCache:
    """Keeps nothing: every build prunes anew."""

    def load(self, key: PruneKey) -> Pruned | None:
        return None

    def save(self, key: PruneKey, pruned: Pruned) -> None:
        pass


def prune_key(variant: Variant) -> PruneKey:
    """What a pruned variant's model is cached by: its ratio, or its goal (``speedup:2``)."""
    if variant.prune_target is not None:
        return variant.prune_target
    if variant.prune_ratio is None:
        raise ValueError(f"{variant.name} is not pruned")
    return variant.prune_ratio


NO_CACHE = NoCache()


def no_finetune(model: nn.Module) -> None:
    """No training data (or a speed-only what-if): the pruned model is measured as pruned."""


def no_phase(name: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


@dataclass
class CompressedModel:
    """A variant ready to measure.

    ``model`` is what to evaluate and time (float, or int8 on the CPU). ``float_model`` is
    what its MACs are counted on: the pruned float model for pruned variants (pruned+int8
    too), the baseline for ``int8`` (int8 kernels do the float model's multiply-adds).
    """

    variant: Variant
    model: nn.Module
    float_model: nn.Module
    pruned: Pruned | None = None
    quant: QuantResult | None = None
    calibration: str | None = None  # int8: what calibrated it, e.g. "512 training images"
    search: AccuracySearch | None = None  # int8 with an accuracy budget: how its float layers were found

    @property
    def prune(self) -> PruneResult | None:
        """What pruning did now (None for a model from the cache, or no pruning)."""
        return self.pruned.prune if self.pruned is not None else None

    @property
    def latency(self) -> LatencyPruning | None:
        """What latency-aware pruning measured (goal, measured speedup, widths), or None."""
        return self.pruned.latency if self.pruned is not None else None

    @property
    def precision(self) -> str:
        return "int8" if self.quant is not None else "fp32"


def apply_variant(
    model: nn.Module,
    variant: Variant | str,
    *,
    example_inputs: torch.Tensor,
    calib_batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...]] | None = None,
    calib_images: int = DEFAULT_CALIBRATION_IMAGES,
    criterion: str = DEFAULT_CRITERION,
    global_pruning: bool = False,
    round_to: int | None = DEFAULT_ROUND_TO,
    grad_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    engine: str = DEFAULT_ENGINE,
    seed: int = 0,
    finetune: Finetune = no_finetune,
    cache: PrunedCache = NO_CACHE,
    phase: PhaseHook = no_phase,
    accuracy: AccuracyBudget | None = None,
    latency: LatencySettings | None = None,
    latency_timer: Timer | None = None,
    sensitivity_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> CompressedModel:
    """Build ``variant`` of ``model`` without changing ``model`` (baseline returns it as is).

    ``example_inputs``: a batch the model accepts (pruning traces it; its shape sizes random
    calibration). ``calib_batches`` are real training images for int8, read once inside the
    quantize phase (a generator is fine); without them ``calib_images`` seeded random inputs
    are used. ``grad_batches`` are (inputs, labels) for criteria that need gradients;
    ``sensitivity_batches`` (inputs, labels) let a latency-aware search weigh narrowings by the
    loss they add (trained models only: an untrained model's loss says nothing). The
    hooks (``finetune``, ``cache``, ``phase``, ``accuracy``, ``latency``) are described in the
    module docstring.
    """
    chosen = parse_variant(variant) if isinstance(variant, str) else variant
    if chosen.quantize is not None:
        check_engine(engine)  # fail before the pruning work, not after it
    float_model, pruned = model, None
    if chosen.is_pruned:
        key = prune_key(chosen)
        pruned = cache.load(key)
        if pruned is None:
            result, found = None, None
            if chosen.prune_target is not None:
                with phase("latency search"):
                    pruned_model, found = prune_to_target(
                        model,
                        chosen.prune_target,
                        example_inputs,
                        settings=latency or LatencySettings(),
                        criterion=criterion,
                        timer=latency_timer,
                        check_timer=latency_timer,
                        sensitivity_batches=sensitivity_batches,
                    )
            else:
                with phase("prune"):
                    pruned_model = copy.deepcopy(model).cpu()
                    result = prune_model(
                        pruned_model,
                        ratio=chosen.prune_ratio,
                        example_inputs=example_inputs,
                        criterion=criterion,
                        global_pruning=global_pruning,
                        round_to=round_to,
                        grad_batches=grad_batches,
                        seed=seed,
                    )
            pruned = Pruned(pruned_model, result, finetune(pruned_model), latency=found)
            cache.save(key, pruned)
        float_model = pruned.model
    if chosen.quantize is None:
        return CompressedModel(chosen, float_model, float_model, pruned=pruned)

    with phase("quantize"):
        if calib_batches is None:
            batches = random_calibration_batches(tuple(example_inputs.shape[1:]), calib_images, seed=seed)
            source = RANDOM_CALIBRATION
        else:
            batches = list(calib_batches)
            source = REAL_CALIBRATION
        if not fx_available():
            quant = _pt2e_int8(float_model, batches, example_inputs)
            return CompressedModel(
                chosen, quant.model, float_model, pruned=pruned, quant=quant,
                calibration=f"{quant.calibration_images} {source}",
            )  # fmt: skip
        calibrated = calibrate_int8(float_model, batches, engine=engine, example_inputs=example_inputs[:1])
        quant = convert_int8(calibrated)
    search = None
    if accuracy is not None:
        with phase("int8 search"):
            quant, search = quantize_within(float_model, calibrated, accuracy, full=quant)
    return CompressedModel(
        chosen,
        quant.model,
        float_model,
        pruned=pruned,
        quant=quant,
        calibration=f"{quant.calibration_images} {source}",
        search=search,
    )


def _pt2e_int8(float_model: nn.Module, batches: list[torch.Tensor], example_inputs: torch.Tensor) -> QuantResult:
    """int8 without torch.ao's FX: pt2e's reference int8 graph, run as is (the row's
    ``quant_engine`` says ``pt2e-x86-inductor``; ``--runtime compile`` lowers it to int8
    kernels). The accuracy-aware search needs FX's per-layer conversion and is not run."""
    result = quantize_pt2e(float_model, batches, example_inputs=example_inputs)
    return QuantResult(
        model=result.model,
        engine=PT2E_ENGINE,
        quantized_modules=0,
        quantized_ops=result.quantize_nodes,
        calibration_images=result.calibration_images,
    )
