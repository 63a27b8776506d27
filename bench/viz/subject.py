"""The model `bench viz` looks at: a trained baseline or one of its compressed variants.

Variants come from the provider `bench run` uses too (:class:`bench.provider.ModelProvider`),
so ``--variant pruned-50`` is the very model `bench run` measures, loaded from the same
disk cache when a run already fine-tuned it, and ``int8`` is calibrated the same way.

int8 models have no autograd and, once FX has inlined their blocks, no module at a stage's
end to hook, so their feature maps, saliency and Grad-CAM are taken from the float model
they were quantized from; the int8 model gives every prediction (labels, confusion
matrix, ROC, mistakes). :attr:`VizSubject.notes` says so, and the figures' titles too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from bench.data import DataSplits, get_dataset_spec
from bench.provider.observer import ProgressObserver
from bench.provider.provider import ModelProvider
from bench.training.requests import DataRequest, TrainingRequest, WeightsSource
from compress.variants import BASELINE, parse_variant, variant_name

Histories = dict[tuple[str, str], list[dict[str, float]]]


@dataclass
class VizSubject:
    """What is drawn: the predicting model, the float model behind it, its data and history."""

    model_name: str
    dataset: str
    variant: str
    model: nn.Module  # gives the predictions: float, pruned or int8
    float_model: nn.Module  # gives activations and gradients (the int8 model's float source)
    device: torch.device  # where ``model`` runs (int8: the CPU)
    splits: DataSplits
    histories: Histories  # training curves to draw, keyed (model, variant) like the report's
    source: str  # where the weights came from: trained, cached, ...
    notes: list[str] = field(default_factory=list)

    @property
    def quantized(self) -> bool:
        return parse_variant(self.variant).is_quantized

    @property
    def float_label(self) -> str:
        """How the figures built on ``float_model`` name it."""
        if not self.quantized:
            return self.variant
        chosen = parse_variant(self.variant)
        return f"float {variant_name(chosen.prune_ratio, None, prune_target=chosen.prune_target)} model behind int8"


def load_subject(
    name: str,
    *,
    data: DataRequest,
    training: TrainingRequest,
    variant: str = BASELINE,
    observer: ProgressObserver | None = None,
) -> VizSubject:
    """Train or load ``name`` on ``data`` (the checkpoint cache), then build ``variant`` of it.

    ``training.device`` is where the float model runs; ``observer`` hears the provider's
    phases and hands out the training progress callback.
    """
    chosen = parse_variant(variant)
    data_spec = get_dataset_spec(data.dataset)
    data_spec.require_labels("visualizing predictions")
    provider = ModelProvider(name, data=data, training=training, observer=observer)
    built = provider.variant(chosen)
    base = built.baseline
    histories: Histories = {(name, BASELINE): base.history}
    float_model, source, notes = built.float_model, base.source, []
    if built.pruned is not None:
        pruned = built.pruned
        histories[(name, variant_name(chosen.prune_ratio, None, prune_target=chosen.prune_target))] = pruned.history
        how = "pruned and fine-tuned now" if pruned.source == WeightsSource.TRAINED else f"pruned model, {pruned.source}"
        source = f"{how} (baseline: {base.source})"
        notes.append(
            f"pruned with the {provider.compression.importance} criterion and fine-tuned; the training curves show "
            "the baseline's training and the fine-tuning"
        )
        if built.latency is not None:
            found = built.latency
            notes.append(
                f"latency-aware pruning to {found.target}: {found.speedup:.2f}x measured against the baseline "
                f"on {found.device} at batch {found.batch_size} ({len(found.narrowed)} groups narrowed)"
            )
    device = training.torch_device
    float_model.to(device)
    model, model_device = float_model, device
    if built.quant is not None:  # `bench run`'s int8 model, same calibration
        model, model_device = built.model, torch.device("cpu")
        notes.append(
            f"int8 ({built.quant.engine} engine, calibrated on {built.calibration}) gives "
            "the predictions; int8 kernels have no gradients and no per-block outputs, so the feature "
            "maps, saliency and Grad-CAM show the float model it was quantized from, explaining the "
            "int8 model's predicted class; the training curves are the float model's"
        )
    return VizSubject(
        model_name=name,
        dataset=data_spec.name,
        variant=chosen.name,
        model=model,
        float_model=float_model,
        device=model_device,
        splits=base.splits,
        histories=histories,
        source=source,
        notes=notes,
    )
