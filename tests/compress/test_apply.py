"""apply_variant: one call from a model and a variant name to what `bench profile` and the provider measure."""

from __future__ import annotations

import contextlib

import pytest
import torch

from bench.errors import BenchError
from bench.zoo import create_model
from compress.apply import apply_variant
from compress.quantization import random_calibration_batches
from compress.variants import parse_variant

INPUT = torch.randn(1, 1, 32, 32)


@pytest.fixture
def lenet():
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


def test_baseline_is_the_model_itself(lenet):
    result = apply_variant(lenet, "baseline", example_inputs=INPUT)
    assert result.model is lenet and result.float_model is lenet
    assert result.prune is None and result.quant is None and result.precision == "fp32"


def test_pruned_variant_leaves_the_input_model_alone(lenet):
    before = {k: v.clone() for k, v in lenet.state_dict().items()}
    result = apply_variant(lenet, parse_variant("pruned-30"), example_inputs=INPUT)
    assert all(torch.equal(before[k], v) for k, v in lenet.state_dict().items())
    assert result.model is result.float_model is not lenet
    assert result.prune.ratio == 0.3 and result.prune.macs_after < result.prune.macs_before


def test_int8_counts_macs_on_the_baseline_and_says_how_it_was_calibrated(lenet):
    result = apply_variant(lenet, "int8", example_inputs=INPUT, calib_images=24)
    assert result.float_model is lenet and result.precision == "int8"
    assert result.calibration == "24 random inputs" and result.quant.calibration_images == 24
    real = [(b, torch.zeros(len(b), dtype=torch.long)) for b in random_calibration_batches((1, 32, 32), 16, 8)]
    assert apply_variant(lenet, "int8", example_inputs=INPUT, calib_batches=real).calibration == "16 training images"


def test_pruned_int8_prunes_fine_tunes_then_quantizes(lenet):
    seen = []

    def finetune(model):
        seen.append(model.features[0].out_channels)
        with torch.no_grad():
            model.features[0].bias.zero_()  # a visible change the quantized model must inherit

    result = apply_variant(lenet, "pruned-50+int8", example_inputs=INPUT, calib_images=16, finetune=finetune)
    assert seen == [3]  # called once, on the pruned model
    assert result.prune is not None and result.quant is not None
    assert result.float_model.features[0].out_channels == 3
    assert torch.count_nonzero(result.float_model.features[0].bias) == 0
    assert result.model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert lenet.features[0].out_channels == 6


def test_bad_variant_names_and_engines_are_errors(lenet):
    with pytest.raises(BenchError, match="unknown variant"):
        apply_variant(lenet, "pruned-half", example_inputs=INPUT)
    with pytest.raises(BenchError, match="variant 'pruned-150' is out of range"):
        apply_variant(lenet, "pruned-150", example_inputs=INPUT)
    with pytest.raises(BenchError, match="engine 'arm'"):  # checked before any pruning work
        apply_variant(lenet, "pruned-50+int8", example_inputs=INPUT, calib_images=8, engine="arm")


class Memory:
    """A PrunedCache hook that keeps pruned models in a dict."""

    def __init__(self) -> None:
        self.kept = {}

    def load(self, ratio):
        return self.kept.get(ratio)

    def save(self, ratio, pruned):
        self.kept[ratio] = pruned


def test_a_cached_pruned_model_is_neither_pruned_nor_fine_tuned_again(lenet):
    phases, memory = [], Memory()

    @contextlib.contextmanager
    def phase(name):
        phases.append(name)
        yield

    first = apply_variant(
        lenet, "pruned-50", example_inputs=INPUT, finetune=lambda model: "fine-tuned", cache=memory, phase=phase
    )
    assert phases == ["prune"] and memory.kept[0.5] is first.pruned and first.pruned.finetuned == "fine-tuned"

    def must_not_run(model):
        raise AssertionError("fine-tuned a cached model")

    again = apply_variant(
        lenet, "pruned-50+int8", example_inputs=INPUT, calib_images=8, finetune=must_not_run, cache=memory, phase=phase
    )
    assert phases == ["prune", "quantize"]  # no second pruning: the cache had the model
    assert again.float_model is first.model and again.prune is not None and again.pruned.finetuned == "fine-tuned"


def test_a_latency_goal_builds_through_the_same_path(lenet, fake_device):
    """pruned-1.5x: latency search in place of ratio pruning, then the same fine-tuning, cache
    (keyed by the goal) and int8 on top; the measured speedup travels with the model."""
    phases, memory, tuned = [], Memory(), []
    device = fake_device(step=8)

    @contextlib.contextmanager
    def phase(name):
        phases.append(name)
        yield

    first = apply_variant(
        lenet, "pruned-1.5x", example_inputs=INPUT, finetune=lambda model: tuned.append(model) or "fine-tuned",
        cache=memory, phase=phase, latency_timer=device,
    )  # fmt: skip
    assert phases == ["latency search"] and tuned == [first.model]
    assert memory.kept["speedup:1.5"] is first.pruned and first.prune is None
    found = first.latency
    assert found is not None and found.target == "speedup:1.5" and found.speedup >= 1.5
    assert found.speedup == pytest.approx(device.latency(lenet) / device.latency(first.model))
    assert first.model.features[3].out_channels == found.widths["features.3"]
    assert lenet.features[3].out_channels == 16  # the baseline is untouched

    again = apply_variant(
        lenet, "pruned-1.5x+int8", example_inputs=INPUT, calib_images=8, cache=memory, phase=phase,
        latency_timer=device,
    )  # fmt: skip
    assert phases == ["latency search", "quantize"]  # the int8 twin quantizes the very model measured
    assert again.float_model is first.model and again.latency is found and again.precision == "int8"
