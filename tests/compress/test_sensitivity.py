"""Accuracy-aware int8: sensitive layers stay float until the validation drop is within --max-drop."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from bench.data import load_splits
from compress.apply import apply_variant
from compress.quantization import calibrate_int8, quantizable_layers, quantize_int8
from compress.sensitivity import AccuracyBudget, SearchLimits, quantize_within

BUDGET = 5.0  # top-1 points: the outlier alone costs ~85; see the culprit test for why not 2


def _tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images), torch.tensor([int(label) for label in labels])


@pytest.fixture(scope="module")
def digits():
    splits = load_splits("digits", input_size=8)
    return {name: _tensors(getattr(splits, name)) for name in ("train_plain", "val", "test")}


@pytest.fixture(scope="module")
def outlier_net(outlier_net_class: type, outlier_weights) -> nn.Module:
    """The outlier net trained on digits at 8x8: its float model is accurate."""
    model = outlier_net_class()
    model.load_state_dict(torch.load(outlier_weights))
    return model.eval()


def _top1(model: nn.Module, split: tuple[torch.Tensor, torch.Tensor]) -> float:
    images, labels = split
    with torch.no_grad():
        return 100.0 * (model(images).argmax(1) == labels).float().mean().item()


def _budget(digits, max_drop: float, **limits) -> AccuracyBudget:
    seen = digits.setdefault("evaluated", [])

    def val_top1(model: nn.Module) -> float:
        seen.append(len(digits["val"][1]))
        return _top1(model, digits["val"])

    sample = [digits["val"][0][:64]]
    return AccuracyBudget(max_drop, val_top1, sample, SearchLimits(**limits))


def _calibrated(model: nn.Module, digits):
    return calibrate_int8(model, [digits["train_plain"][0][:256]], example_inputs=digits["train_plain"][0][:1])


def test_the_outlier_breaks_plain_int8_but_not_the_float_model(outlier_net, digits) -> None:
    clean = copy.deepcopy(outlier_net)
    with torch.no_grad():
        clean.conv2.weight[:, 7] = 0.0  # the dead channel's weights: the float model never uses them
    assert _top1(outlier_net, digits["val"]) == _top1(clean, digits["val"]) > 80.0
    assert outlier_net.conv2.weight.max() == outlier_net.outlier, "training left the outlier alone"
    plain = quantize_int8(outlier_net, [digits["train_plain"][0][:256]])
    assert _top1(outlier_net, digits["val"]) - _top1(plain.model, digits["val"]) > 30.0
    assert plain.float_layers == ()


def test_a_model_int8_breaks_ends_within_budget_with_the_culprit_float(outlier_net, digits) -> None:
    calibrated = _calibrated(outlier_net, digits)
    assert quantizable_layers(calibrated) == ("conv1", "conv2", "fc")
    # 5 points: int8 of conv1 and fc alone costs ~3 on a Xeon with AMX (oneDNN), under 2 on AMD Zen
    quant, search = quantize_within(outlier_net, calibrated, _budget(digits, BUDGET))
    assert search is not None and search.met and search.drop <= BUDGET
    assert search.reference_top1 - search.int8_top1 > 30.0
    assert quant.float_layers == search.float_layers == ("conv2",)
    assert next(iter(search.sensitivity)) == "conv2" and search.layer_trials == search.layers == 3
    assert search.evaluations <= 16 and search.stopped is None
    assert quant.quantized_modules == 2  # conv1 and fc still run int8 kernels
    assert quant.model.conv2[0].weight.max() == outlier_net.outlier  # float weights (fused with its ReLU)
    assert quant.model.cnnbench_int8["float_layers"] == ["conv2"]
    # Chosen on the validation split only; the test split confirms it.
    assert set(digits["evaluated"]) == {len(digits["val"][1])} != {len(digits["test"][1])}
    assert _top1(outlier_net, digits["test"]) - _top1(quant.model, digits["test"]) < 3.0


@pytest.mark.parametrize("max_drop", [100.0, 90.0])
def test_a_large_budget_keeps_every_layer_int8(outlier_net, digits, max_drop: float) -> None:
    calibrated = _calibrated(outlier_net, digits)
    quant, search = quantize_within(outlier_net, calibrated, _budget(digits, max_drop))
    plain = quantize_int8(outlier_net, [digits["train_plain"][0][:256]], example_inputs=digits["train_plain"][0][:1])
    assert quant.float_layers == ()
    images = digits["test"][0]
    assert torch.equal(quant.model(images), plain.model(images)), "identical to plain int8"
    if max_drop >= 100.0:
        assert search is None  # no drop can exceed 100 points: nothing evaluated
    else:
        assert search.met and search.float_layers == () and search.evaluations == 2 and search.sensitivity == {}


def test_the_evaluation_limit_stops_the_search_and_says_so(outlier_net, digits) -> None:
    quant, search = quantize_within(
        outlier_net, _calibrated(outlier_net, digits), _budget(digits, 0.5, max_evaluations=2)
    )
    assert search.evaluations == 2 and not search.met and search.stopped == "max_evaluations (2)"
    assert quant.float_layers == () and search.top1 == search.int8_top1


def test_the_trial_limit_ranks_unscored_layers_last(outlier_net, digits) -> None:
    quant, search = quantize_within(
        outlier_net, _calibrated(outlier_net, digits), _budget(digits, 2.0, max_layer_trials=1)
    )
    assert list(search.sensitivity) == ["conv1"] and search.stopped == "max_layer_trials (1)"
    assert search.met and "conv2" in quant.float_layers  # found by doubling past the unscored layers


def test_apply_variant_takes_the_budget_as_a_hook(outlier_net, digits) -> None:
    phases: list[str] = []

    def phase(name: str):
        phases.append(name)
        return contextlib.nullcontext()

    built = apply_variant(
        outlier_net,
        "int8",
        example_inputs=digits["train_plain"][0][:2],
        calib_batches=[digits["train_plain"][0][:256]],
        phase=phase,
        accuracy=_budget(digits, BUDGET),
    )
    assert built.quant.float_layers == ("conv2",) and built.search.met
    assert phases == ["quantize", "int8 search"]
    plain = apply_variant(outlier_net, "int8", example_inputs=digits["train_plain"][0][:2], calib_images=32)
    assert plain.search is None and plain.quant.float_layers == ()


def _scripted(digits, top1_by_float_layers):
    """A budget whose int8 top-1 depends only on how many layers are float (the float model: 90)."""

    def top1(model: nn.Module) -> float:
        meta = getattr(model, "cnnbench_int8", None)
        return 90.0 if meta is None else top1_by_float_layers(len(meta["float_layers"]))

    return AccuracyBudget(1.0, top1, [digits["val"][0][:32]])


def test_doubling_then_bisection_finds_the_smallest_count(outlier_net, digits) -> None:
    calibrated = _calibrated(outlier_net, digits)
    quant, search = quantize_within(outlier_net, calibrated, _scripted(digits, lambda k: 90.0 if k >= 2 else 50.0))
    assert search.met and len(quant.float_layers) == 2 and quant.float_layers[0] == "conv2"
    assert search.evaluations == 4  # float, all int8, k=1 (fails), k=2 (meets)


def test_when_no_count_meets_the_budget_the_best_model_seen_is_kept(outlier_net, digits) -> None:
    calibrated = _calibrated(outlier_net, digits)
    quant, search = quantize_within(outlier_net, calibrated, _scripted(digits, lambda k: 50.0 + k))
    assert not search.met and search.stopped is None and search.evaluations == 2 + 3  # k = 1, 2, 3
    assert len(quant.float_layers) == 3 and search.top1 == 53.0  # every layer float: still 37 points short
