"""How well a model classifies the test split, as pictures: ROC curves and its mistakes.

One pass over the test split gives the logits behind every figure here and the confusion
matrix (:func:`bench.training.evaluation.summarize`), so the figures agree with each other
and with `bench train`'s figures for the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from bench.data import make_loader
from bench.viz.figures import (
    PlotResult,
    display_image,
    grid_figure,
    save_figure,
    show_image,
)

MAX_MISCLASSIFIED = 32
MAX_LEGEND_CLASSES = 20
ZOOM_FPR = 0.1


@dataclass
class Predictions:
    """Logits (N, classes) and true labels (N,) of a split, in its order, on the CPU."""

    logits: torch.Tensor
    labels: torch.Tensor

    @property
    def probabilities(self) -> torch.Tensor:
        return self.logits.softmax(dim=1)

    @property
    def predicted(self) -> torch.Tensor:
        return self.logits.argmax(dim=1)


def predict(model: nn.Module, dataset: Dataset, *, device: torch.device, batch_size: int = 256) -> Predictions:
    """Run ``model`` (eval mode, no autocast) over ``dataset``; restores the model's mode."""
    was_training = model.training
    model.eval()
    logits: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for images, targets in make_loader(dataset, batch_size=batch_size, shuffle=False, seed=0):
                logits.append(model(images.to(device)).float().cpu())
                labels.append(targets)
    finally:
        model.train(was_training)
    return Predictions(torch.cat(logits), torch.cat(labels))


def pick_examples(labels: torch.Tensor, count: int) -> list[int]:
    """``count`` split indices, one class after another (the first image of class 0, of 1, ...)."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        by_class.setdefault(int(label), []).append(index)
    queues = [by_class[c] for c in sorted(by_class)]
    picked: list[int] = []
    depth = 0
    while len(picked) < count and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return sorted(picked[:count])


@dataclass(frozen=True)
class RocCurve:
    """One class against the rest: false and true positive rates, and the area under the curve."""

    class_name: str
    fpr: list[float]
    tpr: list[float]
    auc: float


def roc_curves(predictions: Predictions, class_names: Sequence[str]) -> tuple[list[RocCurve], list[str]]:
    """One-vs-rest ROC per class from the softmax scores, and the classes that have no curve.

    A class whose test images are all positive or all negative has no ROC curve (one of
    the rates is undefined); it is named in the second list rather than drawn as a line.
    """
    from sklearn.metrics import auc, roc_curve

    scores = predictions.probabilities.numpy()
    labels = predictions.labels.numpy()
    curves: list[RocCurve] = []
    undefined: list[str] = []
    for index, name in enumerate(class_names):
        positive = labels == index
        if positive.all() or not positive.any():
            undefined.append(str(name))
            continue
        fpr, tpr, _ = roc_curve(positive, scores[:, index])
        curves.append(RocCurve(str(name), fpr.tolist(), tpr.tolist(), float(auc(fpr, tpr))))
    return curves, undefined


def plot_roc(curves: Sequence[RocCurve], *, title: str, path: Path) -> PlotResult:
    """The one-vs-rest curves with their AUC, in full and zoomed on the top-left corner.

    A good classifier's curves all hug the corner, so the zoom (false positive rates up to
    ``ZOOM_FPR``) is where they can be told apart. The title gives the macro AUC.
    """
    if not curves:
        return PlotResult(None, "no class has both positive and negative test images, so no ROC curve exists")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 5.6))
    full, zoom = figure.subplots(1, 2)
    for index, curve in enumerate(curves):
        for axes in (full, zoom):
            axes.plot(curve.fpr, curve.tpr, color=f"C{index % 10}", linewidth=1.2, label=f"{curve.class_name} (AUC {curve.auc:.4f})")
    full.plot([0, 1], [0, 1], "--", color="gray", linewidth=0.8, label="chance")
    lowest = min(_tpr_at(curve, ZOOM_FPR) for curve in curves)
    full.set(xlim=(0, 1), ylim=(0, 1.01), title="all rates")
    zoom.set(xlim=(0, ZOOM_FPR), ylim=(max(0.0, lowest - 0.02), 1.005), title=f"top-left corner (false positive rate <= {ZOOM_FPR:g})")
    for axes in (full, zoom):
        axes.set(xlabel="false positive rate", ylabel="true positive rate")
        axes.grid(True, alpha=0.3)
    if len(curves) <= MAX_LEGEND_CLASSES:
        full.legend(fontsize=7, loc="lower right")
    macro = sum(c.auc for c in curves) / len(curves)
    figure.suptitle(f"{title}: one-vs-rest ROC per class, macro AUC {macro:.4f}", fontsize=10)
    return save_figure(figure, path)


def _tpr_at(curve: RocCurve, fpr: float) -> float:
    """The curve's true positive rate where its false positive rate reaches ``fpr`` (a step curve)."""
    return max((t for f, t in zip(curve.fpr, curve.tpr) if f <= fpr), default=0.0)


def plot_misclassified(
    dataset: Dataset,
    predictions: Predictions,
    class_names: Sequence[str],
    *,
    mean: Sequence[float],
    std: Sequence[float],
    title: str,
    path: Path,
) -> PlotResult:
    """The most confident mistakes first (up to ``MAX_MISCLASSIFIED``): true, predicted and its probability."""
    wrong = (predictions.predicted != predictions.labels).nonzero().flatten()
    if len(wrong) == 0:
        return PlotResult(None, f"no misclassified test images: all {len(predictions.labels)} are right")
    confidence = predictions.probabilities.max(dim=1).values
    order = wrong[confidence[wrong].argsort(descending=True)][:MAX_MISCLASSIFIED].tolist()
    figure, axes_list = grid_figure(len(order), columns=8, panel=1.5)
    for axes, index in zip(axes_list, order):
        image, _ = dataset[index]
        show_image(axes, display_image(image, mean, std))
        true_name = class_names[int(predictions.labels[index])]
        predicted_name = class_names[int(predictions.predicted[index])]
        axes.set_title(f"true {true_name}\npred {predicted_name} ({100 * confidence[index]:.0f}%)", fontsize=7)
    if len(wrong) == 1:
        heading = "the only misclassified test image"
    else:
        shown = f"{len(order)} of {len(wrong)}" if len(order) < len(wrong) else f"all {len(wrong)}"
        heading = f"{shown} misclassified test images, most confident first"
    figure.suptitle(f"{title}:\n{heading}", fontsize=9)
    return save_figure(figure, path)
