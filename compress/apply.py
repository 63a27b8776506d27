"""One entry point from a model and a variant name to the compressed model to measure.

The runner and `bench profile` call :func:`apply_variant`; the steps stay callable on their
own (:func:`compress.pruning.prune_model`, :func:`compress.quantization.quantize_int8`).
``pruned-50+int8`` is prune, fine-tune (the caller's ``finetune`` callback, when there is
training data), then quantize the fine-tuned pruned model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from compress.importance import DEFAULT_CRITERION
from compress.pruning import DEFAULT_ROUND_TO, PruneResult, prune_model
from compress.quantization import (
    DEFAULT_CALIBRATION_IMAGES,
    DEFAULT_ENGINE,
    QuantResult,
    check_engine,
    quantize_int8,
    random_calibration_batches,
)
from compress.variants import Variant, parse_variant


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
    prune: PruneResult | None = None
    quant: QuantResult | None = None
    calibration: str | None = None  # int8: what calibrated it, e.g. "512 images"

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
    finetune: Callable[[nn.Module], None] | None = None,
    seed: int = 0,
) -> CompressedModel:
    """Build ``variant`` of ``model`` without changing ``model`` (baseline returns it as is).

    ``calib_batches`` are real images for int8 calibration; without them ``calib_images``
    seeded random inputs are used (speed-only runs) and ``calibration`` says so.
    ``finetune(pruned_model)`` runs between pruning and quantization.
    """
    chosen = parse_variant(variant) if isinstance(variant, str) else variant
    if chosen.quantize is not None:
        check_engine(engine)  # fail before the pruning work, not after it
    float_model = model
    prune: PruneResult | None = None
    if chosen.prune_ratio is not None:
        float_model = copy.deepcopy(model)
        prune = prune_model(
            float_model,
            ratio=chosen.prune_ratio,
            example_inputs=example_inputs,
            criterion=criterion,
            global_pruning=global_pruning,
            round_to=round_to,
            grad_batches=grad_batches,
            seed=seed,
        )
        if finetune is not None:
            finetune(float_model)
    if chosen.quantize is None:
        return CompressedModel(chosen, float_model, float_model, prune=prune)

    if calib_batches is None:
        input_shape = tuple(example_inputs.shape[1:])
        batches = random_calibration_batches(input_shape, calib_images, seed=seed)
        source = "random inputs"
    else:
        batches = list(calib_batches)
        source = "images"
    quant = quantize_int8(float_model, batches, engine=engine, example_inputs=example_inputs[:1])
    return CompressedModel(
        chosen,
        quant.model,
        float_model,
        prune=prune,
        quant=quant,
        calibration=f"{quant.calibration_images} {source}",
    )
