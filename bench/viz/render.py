"""`bench viz`'s output folder: every figure of one model, and the index that embeds them.

Order of work: one prediction pass over the test split by the model that predicts (int8
for int8 variants); the training curves from the stored history; the figures drawn from
the predictions (confusion matrix, ROC, mistakes); then the figures that look inside the
float model: the feature maps of each stage for one test image, and saliency and Grad-CAM
for ``images`` test images picked one class after another. Figure names are fixed, so a
second run into the same folder replaces the first (and removes figures it did not draw).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.training.evaluation import EvalResult, summarize
from bench.viz.activations import Stage, capture_stages, find_stages, plot_feature_maps
from bench.viz.classification import (
    Predictions,
    RocCurve,
    pick_examples,
    plot_misclassified,
    plot_roc,
    predict,
    roc_curves,
)
from bench.viz.index import FigureEntry, write_index
from bench.viz.saliency import grad_cam, gradcam_stage, input_gradients, plot_heat_maps
from bench.viz.subject import VizSubject
from bench.viz.evaluation_figures import plot_confusion_matrix, plot_training_curves
from bench.viz.figures import PlotResult

FIXED_FIGURES = ("training_curves.png", "confusion_matrix.png", "roc.png", "misclassified.png", "saliency.png", "gradcam.png")
FEATURE_GLOB = "feature_maps_*.png"


@dataclass
class VizResult:
    """What was written: the index, every figure entry, and the figures' key facts."""

    out_dir: Path
    index_path: Path
    entries: list[FigureEntry]
    evaluation: EvalResult
    stages: list[Stage]
    cam_stage: Stage | None
    macro_auc: float | None

    @property
    def written(self) -> list[Path]:
        return [Path(e.result.path) for e in self.entries if e.result.path is not None]


def default_out_dir(model: str, dataset: str, variant: str) -> Path:
    """``viz/<model>-<dataset>[-<variant>]`` (no suffix for the baseline)."""
    stem = f"{model}-{dataset}" + ("" if variant == "baseline" else f"-{variant}")
    return Path("viz") / re.sub(r"[^A-Za-z0-9._+-]", "_", stem)


def render(
    subject: VizSubject,
    out_dir: Path,
    *,
    images: int,
    on_figure: Callable[[str], None] | None = None,
) -> VizResult:
    """Draw every figure of ``subject`` into ``out_dir`` and write ``index.md``; see the module doc.

    ``images``: how many test images the saliency and Grad-CAM figures show.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    announce = on_figure or (lambda _name: None)
    splits = subject.splits
    names = [str(c) for c in splits.class_names]
    label = f"{subject.model_name} {subject.variant} on {subject.dataset}"

    announce("predictions on the test split")
    predictions = predict(subject.model, splits.test, device=subject.device)
    evaluation = summarize(predictions.logits, predictions.labels, names)
    announce("training curves")
    entries = [
        FigureEntry(
            "Training",
            "loss and top-1 per epoch (train dashed, validation solid)",
            plot_training_curves(subject.histories, out_dir / "training_curves.png"),
        )
    ]
    announce("confusion matrix, ROC, mistakes")
    classification, roc = _classification_entries(subject, predictions, evaluation, label, out_dir)
    entries += classification

    picked = pick_examples(predictions.labels, images)
    examples = _Examples(
        images=torch.stack([splits.test[i][0] for i in picked]),
        predicted=predictions.predicted[picked],
        labels=[names[int(predictions.labels[i])] for i in picked],
        predictions=[names[int(predictions.predicted[i])] for i in picked],
    )
    announce("feature maps")
    stages = find_stages(subject.float_model, examples.images[:1])
    entries += _feature_map_entries(subject, examples, stages, out_dir)
    announce("saliency and Grad-CAM")
    cam_stage = gradcam_stage(stages)
    entries += _saliency_entries(subject, examples, cam_stage, label, out_dir)

    _remove_stale(out_dir, entries)
    macro_auc = sum(c.auc for c in roc) / len(roc) if roc else None
    facts = _facts(subject, evaluation, stages, cam_stage, macro_auc, picked)
    index = write_index(f"bench viz: {label}", facts, subject.notes, entries, out_dir)
    return VizResult(out_dir, index, entries, evaluation, stages, cam_stage, macro_auc)


@dataclass
class _Examples:
    """The test images the saliency figures show, the class they explain, and their labels."""

    images: torch.Tensor
    predicted: torch.Tensor
    labels: list[str]
    predictions: list[str]


def _float_note(subject: VizSubject) -> str:
    """Title suffix for figures drawn on the float model behind an int8 variant."""
    return f" [{subject.float_label}]" if subject.quantized else ""


def _classification_entries(
    subject: VizSubject, predictions: Predictions, evaluation: EvalResult, label: str, out_dir: Path
) -> tuple[list[FigureEntry], list[RocCurve]]:
    splits = subject.splits
    names = evaluation.class_names
    mean, std = splits.spec.stats_for(splits.input_shape[0])
    matrix = plot_confusion_matrix({(subject.model_name, subject.variant): evaluation.to_dict()}, out_dir / "confusion_matrix.png")
    curves, undefined = roc_curves(predictions, names)
    missing = f"; no curve for {', '.join(undefined)} (one class only in the test split)" if undefined else ""
    mistakes = plot_misclassified(splits.test, predictions, names, mean=mean, std=std, title=label, path=out_dir / "misclassified.png")
    entries = [
        FigureEntry("Classification", "confusion matrix on the test split", matrix),
        FigureEntry("Classification", f"one-vs-rest ROC curves with AUC{missing}", plot_roc(curves, title=label, path=out_dir / "roc.png")),
        FigureEntry("Classification", "misclassified test images", mistakes),
    ]
    return entries, curves


def _saliency_entries(
    subject: VizSubject, examples: _Examples, cam_stage: Stage | None, label: str, out_dir: Path
) -> list[FigureEntry]:
    model, note = subject.float_model, _float_note(subject)
    mean, std = subject.splits.spec.stats_for(subject.splits.input_shape[0])
    common = {"labels": examples.labels, "predictions": examples.predictions, "mean": mean, "std": std}
    saliency = input_gradients(model, examples.images, examples.predicted)
    title = f"{label}: saliency (input gradients) of the predicted class{note}"
    entries = [
        FigureEntry(
            "Saliency",
            "input-gradient saliency: the absolute gradient of the predicted class's score per pixel",
            plot_heat_maps(examples.images, saliency, overlay=False, title=title, path=out_dir / "saliency.png", **common),
        )
    ]
    if cam_stage is None:
        reason = "the model has no convolutional stage with maps larger than 1x1"
        entries.append(FigureEntry("Saliency", "Grad-CAM", PlotResult(None, reason)))
        return entries
    size = f"{cam_stage.shape[1]}x{cam_stage.shape[2]}"
    maps = grad_cam(model, cam_stage, examples.images, examples.predicted)
    title = f"{label}: Grad-CAM at {cam_stage.name} ({size}) for the predicted class{note}"
    cam = plot_heat_maps(examples.images, maps, overlay=True, title=title, path=out_dir / "gradcam.png", **common)
    caption = f"Grad-CAM at {cam_stage.name} ({size} maps upsampled to the input) for the predicted class"
    entries.append(FigureEntry("Saliency", caption, cam))
    return entries


def _feature_map_entries(subject: VizSubject, examples: _Examples, stages: list[Stage], out_dir: Path) -> list[FigureEntry]:
    if not stages:
        reason = "the model has no convolutional stage with maps larger than 1x1"
        return [FigureEntry("Feature maps", "feature maps", PlotResult(None, reason))]
    captured = capture_stages(subject.float_model, examples.images[0], stages)
    note = f" - test image of class {examples.labels[0]}{_float_note(subject)}"
    entries = []
    for index, stage in enumerate(stages, start=1):
        path = out_dir / f"feature_maps_{index:02d}_{re.sub(r'[^A-Za-z0-9._-]', '_', stage.name)}.png"
        result = plot_feature_maps(captured[stage.name], stage, index=index, title_note=note, path=path)
        c, h, w = stage.shape
        entries.append(FigureEntry("Feature maps", f"stage {index}: {stage.name} ({c} channels, {h}x{w})", result))
    return entries


def _facts(
    subject: VizSubject,
    evaluation: EvalResult,
    stages: list[Stage],
    cam_stage: Stage | None,
    macro_auc: float | None,
    picked: list[int],
) -> list[tuple[str, str]]:
    c, h, w = subject.splits.input_shape
    native = subject.splits.spec.image_size
    resized = f" (resized from {native}x{native})" if (h, w) != (native, native) else ""
    facts = [
        ("model", f"{subject.model_name} ({subject.variant})"),
        ("data", f"{subject.dataset}, test split of {evaluation.n} images, fed as {c}x{h}x{w}{resized}"),
        ("weights", subject.source),
        ("test top-1", f"{evaluation.top1:.2f}% (top-{evaluation.topk} {evaluation.top5:.2f}%)"),
    ]
    if macro_auc is not None:
        facts.append(("macro AUC", f"{macro_auc:.4f}"))
    facts.append(("stages", ", ".join(f"{s.name} ({s.shape[1]}x{s.shape[2]})" for s in stages) or "none"))
    facts.append(("Grad-CAM layer", cam_stage.name if cam_stage else "none"))
    facts.append(("test images shown (split indices)", ", ".join(str(i) for i in picked)))
    return facts


def _remove_stale(out_dir: Path, entries: list[FigureEntry]) -> None:
    """Delete this command's own figures left by an earlier run that were not drawn this time."""
    written = {Path(e.result.path).name for e in entries if e.result.path is not None}
    stale = [*out_dir.glob(FEATURE_GLOB), *(out_dir / name for name in FIXED_FIGURES)]
    for path in stale:
        if path.name not in written and path.is_file():
            path.unlink()

