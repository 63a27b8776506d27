"""Predictions, example picking, ROC curves against scikit-learn, and the mistakes grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.utils.data import TensorDataset

from bench.viz.classification import (
    Predictions,
    pick_examples,
    plot_misclassified,
    plot_roc,
    predict,
    roc_curves,
)

NAMES = ["zero", "one", "two"]


def test_predict_returns_logits_and_labels_in_order_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).train()
    images = torch.randn(5, 1, 2, 2)
    labels = torch.tensor([2, 0, 1, 1, 0])
    predictions = predict(model, TensorDataset(images, labels), device=torch.device("cpu"), batch_size=2)
    torch.testing.assert_close(predictions.logits, model(images).detach())
    assert torch.equal(predictions.labels, labels) and model.training
    assert torch.equal(predictions.predicted, predictions.logits.argmax(dim=1))


@pytest.mark.parametrize(
    ("count", "expected"),
    [(3, [0, 2, 3]), (4, [0, 1, 2, 3]), (9, [0, 1, 2, 3, 4])],
)
def test_examples_are_picked_one_class_after_another(count: int, expected: list[int]) -> None:
    assert pick_examples(torch.tensor([0, 0, 1, 2, 1]), count) == expected


def test_roc_auc_matches_scikit_learn_and_names_classes_without_a_curve() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 3, generator=generator)
    labels = torch.randint(0, 2, (40,), generator=generator)  # class "two" never occurs
    logits[labels == 1, 1] += 1.0
    predictions = Predictions(logits, labels)
    curves, undefined = roc_curves(predictions, NAMES)
    assert [c.class_name for c in curves] == ["zero", "one"] and undefined == ["two"]
    scores = predictions.probabilities
    for index, curve in enumerate(curves):
        assert curve.auc == pytest.approx(roc_auc_score((labels == index).numpy(), scores[:, index].numpy()))
        assert curve.fpr[0] == 0 and curve.tpr[-1] == 1


def test_plot_roc_draws_curves_or_says_why_not(tmp_path: Path) -> None:
    curves, _ = roc_curves(Predictions(torch.eye(3) * 5, torch.tensor([0, 1, 2])), NAMES)
    assert [c.auc for c in curves] == [1.0, 1.0, 1.0]
    assert plot_roc(curves, title="t", path=tmp_path / "roc.png").path == tmp_path / "roc.png"
    skipped = plot_roc([], title="t", path=tmp_path / "none.png")
    assert skipped.path is None and "no ROC curve" in skipped.reason and not (tmp_path / "none.png").exists()


def test_the_mistakes_grid_shows_the_most_confident_first_and_says_when_there_are_none(tmp_path: Path) -> None:
    images = torch.randn(4, 1, 4, 4)
    labels = torch.tensor([0, 1, 2, 0])
    data = TensorDataset(images, labels)
    right = Predictions(torch.eye(3)[labels] * 4, labels)
    none = plot_misclassified(data, right, NAMES, mean=(0.5,), std=(0.5,), title="t", path=tmp_path / "m.png")
    assert none.path is None and "no misclassified test images: all 4 are right" in none.reason

    wrong = Predictions(torch.eye(3)[torch.tensor([1, 1, 0, 0])] * 4, labels)
    result = plot_misclassified(data, wrong, NAMES, mean=(0.5,), std=(0.5,), title="t", path=tmp_path / "m.png")
    assert result.path == tmp_path / "m.png" and result.path.stat().st_size > 0
