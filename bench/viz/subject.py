"""The model `bench viz` looks at: a trained baseline or one of its compressed variants.

Variants come from the runner's own machinery (:class:`bench.runner.session.ModelSession`),
so ``--variant pruned-50`` is the very model `bench run` measures, loaded from the same
disk cache when a run already fine-tuned it, and ``int8`` is calibrated the same way.

int8 models have no autograd and, once FX has inlined their blocks, no module at a stage's
end to hook, so their feature maps, saliency and Grad-CAM are taken from the float model
they were quantized from; the int8 model gives every prediction (labels, confusion
matrix, ROC, mistakes). :attr:`VizSubject.notes` says so, and the figures' titles too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from bench.data import DataSplits, get_dataset_spec
from bench.runner.config import RunConfig
from bench.runner.observer import RunObserver, SilentObserver
from bench.runner.session import ModelSession, PhaseClock
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
        return f"float {variant_name(parse_variant(self.variant).prune_ratio, None)} model behind int8"


def load_subject(
    name: str,
    *,
    dataset: str,
    variant: str = BASELINE,
    device: torch.device,
    preset: str = "quick",
    seed: int = 0,
    epochs: int | None = None,
    cache_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
    out_dir: Path = Path("."),
    observer: RunObserver | None = None,
) -> VizSubject:
    """Train or load ``name`` on ``dataset`` (the checkpoint cache), then build ``variant`` of it.

    ``observer`` hears the runner's phases and hands out the training progress callback;
    ``out_dir`` is only recorded in the session's settings.
    """
    chosen = parse_variant(variant)
    data_spec = get_dataset_spec(dataset)
    data_spec.require_labels("visualizing predictions")
    config = RunConfig(
        models=(name,),
        out_dir=out_dir,
        dataset=data_spec.name,
        data_dir=Path(data_dir) if data_dir is not None else None,
        device=device,
        preset=preset,
        epochs=epochs,
        seed=seed,
        prune_ratios=(chosen.prune_ratio,) if chosen.prune_ratio is not None else (),
        quantize=chosen.quantize,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        download=download,
    )
    session = ModelSession(name, config, observer or SilentObserver(), {})
    clock = PhaseClock(session.observer)
    base = session.baseline(clock)
    histories: Histories = {(name, BASELINE): base.history}
    float_model, source, notes = base.model, base.source, []
    if chosen.is_pruned:
        pruned = session.pruned(chosen, clock)
        float_model = pruned.model
        histories[(name, variant_name(chosen.prune_ratio, None))] = pruned.history
        how = "pruned and fine-tuned now" if pruned.source == "trained" else f"pruned model, {pruned.source}"
        source = f"{how} (baseline: {base.source})"
        notes.append(
            f"pruned with the {config.importance} criterion and fine-tuned; the training curves show "
            "the baseline's training and the fine-tuning"
        )
    float_model.to(device)
    model, model_device = float_model, device
    if chosen.is_quantized:
        model, quant_fields = session.quantized(float_model, base, clock)  # `bench run`'s int8 step, same calibration
        model_device = torch.device("cpu")
        notes.append(
            f"int8 ({quant_fields['quant_engine']} engine, calibrated on {quant_fields['calibration']}) gives "
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
