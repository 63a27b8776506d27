"""Variants for viz: the provider's pruned model and int8 model (`bench run`'s), saying what shows what."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.training.requests import DataRequest, TrainingRequest
from bench.viz.subject import load_subject

CPU = torch.device("cpu")
DIGITS = DataRequest("digits")


def test_int8_predicts_while_its_float_source_gives_the_gradients(tmp_path: Path) -> None:
    training = TrainingRequest(epochs=1, device=CPU, cache_dir=tmp_path)
    subject = load_subject("lenet5", data=DIGITS, training=training, variant="pruned-50+int8")
    assert subject.variant == "pruned-50+int8" and subject.quantized
    assert subject.model is not subject.float_model and subject.device == CPU
    assert subject.float_model.features[0].out_channels == 3  # half of C1's 6 channels pruned
    assert any(p.requires_grad for p in subject.float_model.parameters())
    assert not any(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in subject.model.parameters())
    assert "float pruned-50 model behind int8" == subject.float_label
    assert any("show the float model it was quantized from" in note for note in subject.notes)
    assert list(subject.histories) == [("lenet5", "baseline"), ("lenet5", "pruned-50")]
    assert (tmp_path / "checkpoints").is_dir() and any((tmp_path / "pruned").glob("*.pt"))  # the provider's caches (`bench run`'s)


def test_bad_variants_and_unlabelled_data_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="unknown variant 'pruned'"):
        load_subject("lenet5", data=DIGITS, training=TrainingRequest(cache_dir=tmp_path), variant="pruned")
    with pytest.raises(BenchError, match="synthetic has no labels"):
        load_subject("lenet5", data=DataRequest("synthetic"), training=TrainingRequest(cache_dir=tmp_path))


def test_a_latency_aware_int8_variant_names_its_float_model() -> None:
    from bench.viz.subject import VizSubject

    subject = VizSubject("lenet5", "digits", "pruned-2x+int8", None, None, torch.device("cpu"), None, {}, "cached")
    assert subject.quantized and subject.float_label == "float pruned-2x model behind int8"
