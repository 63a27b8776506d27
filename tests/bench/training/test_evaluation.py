"""evaluate/summarize: accuracy, top-k with few classes, confusion, per-class metrics, int8 models."""

from __future__ import annotations

import warnings

import pytest
import torch
from sklearn.metrics import precision_recall_fscore_support
from torch import nn
from torch.utils.data import Subset, TensorDataset

from bench.data import load_splits
from bench.training import EvalResult, evaluate
from bench.training.evaluation import summarize
from bench.zoo import create_model


def test_summarize_counts_top1_top5_and_the_confusion_matrix() -> None:
    torch.manual_seed(0)
    logits = torch.randn(200, 8)
    labels = torch.randint(0, 8, (200,))
    result = summarize(logits, labels)
    ranks = (logits > logits.gather(1, labels[:, None])).sum(dim=1)  # classes scored above the truth
    assert result.top1 == pytest.approx(100 * (ranks == 0).float().mean().item())
    assert result.top5 == pytest.approx(100 * (ranks < 5).float().mean().item())
    assert result.loss == pytest.approx(nn.functional.cross_entropy(logits, labels).item())
    assert result.n == 200 and result.topk == 5
    confusion = torch.tensor(result.confusion)
    assert confusion.sum() == 200 and confusion.trace() == (ranks == 0).sum()
    assert confusion.sum(dim=1).tolist() == torch.bincount(labels, minlength=8).tolist()


def test_per_class_metrics_agree_with_scikit_learn() -> None:
    torch.manual_seed(1)
    logits = torch.randn(150, 4)
    logits[:, 3] -= 10  # class 3 is never predicted: precision 0 by convention
    labels = torch.randint(0, 4, (150,))
    result = summarize(logits, labels, ["a", "b", "c", "d"])
    precision, recall, f1, support = precision_recall_fscore_support(
        labels.numpy(), logits.argmax(1).numpy(), labels=range(4), zero_division=0
    )
    for i, row in enumerate(result.per_class):
        assert row["class"] == "abcd"[i]
        assert row["precision"] == pytest.approx(precision[i])
        assert row["recall"] == pytest.approx(recall[i])
        assert row["f1"] == pytest.approx(f1[i])
        assert row["support"] == support[i]


def test_fewer_than_five_classes_report_top_k_of_all_classes() -> None:
    result = summarize(torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.5]]), torch.tensor([1, 1, 1]))
    assert result.topk == 2 and result.top5 == 100.0
    assert result.top1 == pytest.approx(100 / 3)


def test_class_names_must_match_the_outputs() -> None:
    with pytest.raises(ValueError, match="3 class names for a model with 2 outputs"):
        summarize(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), ["a", "b", "c"])


def test_eval_result_round_trips_through_a_dict() -> None:
    result = summarize(torch.randn(30, 3), torch.randint(0, 3, (30,)))
    data = result.to_dict()
    assert set(data) >= {"top1", "top5", "loss", "n", "class_names", "confusion", "per_class"}
    assert EvalResult.from_dict(data) == result


def test_evaluate_restores_training_mode_and_batches_the_data() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Dropout(0.5))
    data = TensorDataset(torch.randn(70, 4), torch.randint(0, 3, (70,)))
    model.train()
    first = evaluate(model, data, device="cpu", batch_size=16)
    assert model.training
    assert first == evaluate(model, data, device="cpu", batch_size=64)  # dropout off: deterministic
    assert first.n == 70


def test_evaluate_runs_an_int8_fx_graph_module_on_the_cpu() -> None:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    splits = load_splits("digits")
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=10, in_chans=1).eval()
    example = torch.stack([splits.train_plain[i][0] for i in range(32)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example_inputs=(example,))
        prepared(example)
        quantized = convert_fx(prepared)
    test = Subset(splits.test, range(100))
    result = evaluate(quantized, test, device="cpu", class_names=splits.class_names)
    reference = evaluate(model, test, device="cpu")
    assert result.n == 100 and sum(map(sum, result.confusion)) == 100
    assert abs(result.top1 - reference.top1) <= 10  # int8 tracks fp32 even untrained
