"""Evaluation on a held-out split: top-1/top-k, loss, confusion matrix, per-class P/R/F1.

Runs the model as given: no autocast and no memory-format change unless asked, so a
``torch.ao`` int8 GraphModule on the CPU evaluates exactly like a float model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from bench.data import make_loader
from bench.training.accel import autocast_context, use_channels_last

TOP_K = 5


@dataclass
class EvalResult:
    """Accuracy figures (percent) and the confusion matrix (rows: true, columns: predicted).

    ``topk`` is the k behind ``top5``: ``min(5, classes)``, so two-class models report top-2.
    """

    top1: float
    top5: float
    loss: float
    n: int
    topk: int
    class_names: list[str]
    confusion: list[list[int]]
    per_class: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    *,
    device: torch.device | str,
    batch_size: int = 256,
    class_names: list[str] | None = None,
    amp: bool = False,
    channels_last: bool = False,
) -> EvalResult:
    """Evaluate ``model`` on ``dataset`` of (image, label) samples; restores the model's mode.

    ``amp`` (autocast) and ``channels_last`` apply on CUDA only.
    """
    device = torch.device(device)
    channels_last = use_channels_last(device, channels_last)
    was_training = model.training
    model.eval()
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, seed=0)
    logits_list: list[torch.Tensor] = []
    labels_list: list[torch.Tensor] = []
    try:
        with torch.no_grad(), autocast_context(device, amp):
            for images, labels in loader:
                images = images.to(device, non_blocking=True)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                logits_list.append(model(images).float().cpu())
                labels_list.append(labels)
    finally:
        model.train(was_training)
    if not logits_list:
        raise ValueError("cannot evaluate on an empty data set")
    return summarize(torch.cat(logits_list), torch.cat(labels_list), class_names)


def summarize(logits: torch.Tensor, labels: torch.Tensor, class_names: list[str] | None = None) -> EvalResult:
    """Every figure of :class:`EvalResult` from a split's logits (N, classes) and labels (N,)."""
    n, num_classes = logits.shape
    k = min(TOP_K, num_classes)
    top = logits.topk(k, dim=1).indices
    hits = top.eq(labels.unsqueeze(1))
    predicted = top[:, 0]
    confusion = torch.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )
    names = class_names if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for a model with {num_classes} outputs")
    return EvalResult(
        top1=100.0 * hits[:, 0].float().mean().item(),
        top5=100.0 * hits.any(dim=1).float().mean().item(),
        loss=F.cross_entropy(logits, labels).item(),
        n=n,
        topk=k,
        class_names=list(names),
        confusion=confusion.tolist(),
        per_class=_per_class(confusion, names),
    )


def _per_class(confusion: torch.Tensor, names: list[str]) -> list[dict[str, Any]]:
    """Precision, recall and F1 per class (0 where undefined, like scikit-learn's zero_division=0)."""
    true_positive = confusion.diag().double()
    predicted = confusion.sum(dim=0).double()
    support = confusion.sum(dim=1)
    precision = torch.where(predicted > 0, true_positive / predicted.clamp(min=1), 0.0)
    recall = torch.where(support > 0, true_positive / support.clamp(min=1).double(), 0.0)
    denominator = precision + recall
    f1 = torch.where(denominator > 0, 2 * precision * recall / denominator.clamp(min=1e-12), 0.0)
    return [
        {
            "class": names[i],
            "precision": precision[i].item(),
            "recall": recall[i].item(),
            "f1": f1[i].item(),
            "support": int(support[i]),
        }
        for i in range(len(names))
    ]
