"""Variants for viz: the runner's pruned model and int8 model, saying what shows what."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.viz.subject import load_subject

CPU = torch.device("cpu")


def test_int8_predicts_while_its_float_source_gives_the_gradients(tmp_path: Path) -> None:
    subject = load_subject("lenet5", dataset="digits", variant="pruned-50+int8", device=CPU, epochs=1, cache_dir=tmp_path)
    assert subject.variant == "pruned-50+int8" and subject.quantized
    assert subject.model is not subject.float_model and subject.device == CPU
    assert subject.float_model.features[0].out_channels == 3  # half of C1's 6 channels pruned
    assert any(p.requires_grad for p in subject.float_model.parameters())
    assert not any(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in subject.model.parameters())
    assert "float pruned-50 model behind int8" == subject.float_label
    assert any("show the float model it was quantized from" in note for note in subject.notes)
    assert list(subject.histories) == [("lenet5", "baseline"), ("lenet5", "pruned-50")]
    assert (tmp_path / "checkpoints").is_dir() and any((tmp_path / "pruned").glob("*.pt"))  # the runner's caches


def test_bad_variants_and_unlabelled_data_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="unknown variant 'pruned'"):
        load_subject("lenet5", dataset="digits", variant="pruned", device=CPU, cache_dir=tmp_path)
    with pytest.raises(BenchError, match="synthetic has no labels"):
        load_subject("lenet5", dataset="synthetic", device=CPU, cache_dir=tmp_path)
