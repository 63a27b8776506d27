"""`bench viz`'s output folder: every figure of one model, and the index that embeds them.

Order of work: one prediction pass over the test split (the model that predicts: int8 for
int8 variants), then the figures drawn from it (confusion matrix, ROC, mistakes), the
training curves from the stored history, and the figures that look inside the float
model: feature maps of each stage for one test image, saliency and Grad-CAM for ``images``
test images picked one class after another.
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
    pick_examples,
    plot_misclassified,
    plot_roc,
    predict,
    roc_curves,
)
from bench.viz.index import FigureEntry, write_index
from bench.viz.saliency import grad_cam, gradcam_stage, input_gradients, plot_heat_maps
from bench.viz.subject import VizSubject
from reports.plots import PlotResult, plot_confusion_matrix, plot_training_curves

DEFAULT_IMAGES = 10
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
    images: int = DEFAULT_IMAGES,
    on_figure: Callable[[str], None] | None = None,
) -> VizResult:
    """Draw every figure of ``subject`` into ``out_dir`` and write ``index.md``; see the module doc."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    announce = on_figure or (lambda _name: None)
    splits = subject.splits
    names = [str(c) for c in splits.class_names]
    mean, std = splits.spec.stats_for(splits.input_shape[0])
    label = f"{subject.model_name} {subject.variant} on {subject.dataset}"
    entries: list[FigureEntry] = []

    announce("predictions on the test split")
    predictions = predict(subject.model, splits.test, device=subject.device)
    evaluation = summarize(predictions.logits, predictions.labels, names)
    announce("training curves")
    curves = plot_training_curves(subject.histories, out_dir / "training_curves.png")
    entries.append(FigureEntry("Training", "loss and top-1 per epoch (train dashed, validation solid)", curves))
    announce("confusion matrix, ROC, mistakes")
    matrix = plot_confusion_matrix({(subject.model_name, subject.variant): evaluation.to_dict()}, out_dir / "confusion_matrix.png")
    entries.append(FigureEntry("Classification", "confusion matrix on the test split", matrix))
    roc, undefined = roc_curves(predictions, names)
    roc_note = f"; no curve for {', '.join(undefined)} (one class only in the test split)" if undefined else ""
    entries.append(FigureEntry("Classification", f"one-vs-rest ROC curves with AUC{roc_note}", plot_roc(roc, title=label, path=out_dir / "roc.png")))
    mistakes = plot_misclassified(splits.test, predictions, names, mean=mean, std=std, title=label, path=out_dir / "misclassified.png")
    entries.append(FigureEntry("Classification", "misclassified test images", mistakes))

    picked = pick_examples(predictions.labels, images)
    batch = torch.stack([splits.test[i][0] for i in picked])
    predicted = predictions.predicted[picked]
    true_names = [names[int(predictions.labels[i])] for i in picked]
    predicted_names = [names[int(c)] for c in predicted]
    float_note = "" if not subject.quantized else f" [{subject.float_label}]"

    announce("feature maps")
    model = subject.float_model
    stages = find_stages(model, batch[:1].to(subject.float_device))
    entries += _feature_map_entries(model, batch[0], stages, true_names[0], float_note, out_dir)
    cam_stage = gradcam_stage(stages)

    announce("saliency and Grad-CAM")
    heat_args = dict(labels=true_names, predictions=predicted_names, mean=mean, std=std)
    saliency = input_gradients(model, batch, predicted)
    entries.append(
        FigureEntry(
            "Saliency",
            "input-gradient saliency |d score / d pixel| of the predicted class",
            plot_heat_maps(batch, saliency, overlay=False, title=f"{label}: saliency (input gradients) of the predicted class{float_note}", path=out_dir / "saliency.png", **heat_args),
        )
    )
    if cam_stage is None:
        cam = PlotResult(None, "the model has no convolutional stage with spatial maps")
    else:
        maps = grad_cam(model, cam_stage, batch, predicted)
        cam = plot_heat_maps(batch, maps, overlay=True, title=f"{label}: Grad-CAM at {cam_stage.name} ({cam_stage.shape[1]}x{cam_stage.shape[2]}) for the predicted class{float_note}", path=out_dir / "gradcam.png", **heat_args)
    cam_caption = f"Grad-CAM at {cam_stage.name}, the last convolutional stage at least 4 wide" if cam_stage else "Grad-CAM"
    entries.append(FigureEntry("Saliency", cam_caption, cam))

    _remove_stale(out_dir, entries)
    macro_auc = sum(c.auc for c in roc) / len(roc) if roc else None
    index = write_index(
        f"bench viz: {label}",
        _facts(subject, evaluation, stages, cam_stage, macro_auc, picked),
        subject.notes,
        entries,
        out_dir,
    )
    return VizResult(out_dir, index, entries, evaluation, stages, cam_stage, macro_auc)


def _feature_map_entries(
    model: torch.nn.Module, image: torch.Tensor, stages: list[Stage], true_name: str, float_note: str, out_dir: Path
) -> list[FigureEntry]:
    if not stages:
        reason = "the model has no convolutional stage with maps larger than 1x1"
        return [FigureEntry("Feature maps", "feature maps", PlotResult(None, reason))]
    captured = capture_stages(model, image, stages)
    entries = []
    for index, stage in enumerate(stages, start=1):
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", stage.name)
        path = out_dir / f"feature_maps_{index:02d}_{safe}.png"
        note = f" - test image of class {true_name}{float_note}"
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
    facts = [
        ("model", f"{subject.model_name} ({subject.variant})"),
        ("data", f"{subject.dataset}, test split of {evaluation.n} images, fed as {c}x{h}x{w}"),
        ("weights", subject.source),
        ("test top-1", f"{evaluation.top1:.2f}% (top-{evaluation.topk} {evaluation.top5:.2f}%)"),
    ]
    if macro_auc is not None:
        facts.append(("macro AUC", f"{macro_auc:.4f}"))
    facts.append(("stages", ", ".join(f"{s.name} ({s.shape[1]}x{s.shape[2]})" for s in stages) or "none"))
    facts.append(("Grad-CAM layer", cam_stage.name if cam_stage else "none"))
    facts.append(("test images shown", ", ".join(str(i) for i in picked)))
    return facts


def _remove_stale(out_dir: Path, entries: list[FigureEntry]) -> None:
    """Delete this command's own figures left by an earlier run that were not drawn this time."""
    written = {Path(e.result.path).name for e in entries if e.result.path is not None}
    stale = [*out_dir.glob(FEATURE_GLOB), *(out_dir / name for name in FIXED_FIGURES)]
    for path in stale:
        if path.name not in written and path.is_file():
            path.unlink()


__all__ = ["DEFAULT_IMAGES", "Predictions", "VizResult", "default_out_dir", "render"]
