"""Compressed-model files: tagged plain data, read without unpickling code."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from compress.checkpoint import read_payload, write_payload


def test_round_trip_keeps_tensors_and_plain_values(tmp_path):
    path = write_payload(tmp_path / "sub" / "m.pt", "fmt-a", 1, {"widths": {"x": [1, 2]}, "t": torch.arange(3)})
    payload = read_payload(path, "fmt-a", what="thing", saver="save_thing")
    assert payload["version"] == 1 and payload["widths"] == {"x": [1, 2]}
    assert torch.equal(payload["t"], torch.arange(3))


def test_wrong_format_missing_file_and_pickled_objects_are_one_line_errors(tmp_path):
    path = write_payload(tmp_path / "m.pt", "fmt-a", 1, {})
    with pytest.raises(BenchError, match="is not a thing saved by cnnbench; save it with save_thing"):
        read_payload(path, "fmt-b", what="thing", saver="save_thing")
    with pytest.raises(BenchError, match="no thing at"):
        read_payload(tmp_path / "none.pt", "fmt-a", what="thing", saver="save_thing")
    torch.save({"format": "fmt-a", "module": nn.Linear(1, 1)}, tmp_path / "pickled.pt")
    with pytest.raises(BenchError) as info:
        read_payload(tmp_path / "pickled.pt", "fmt-a", what="thing", saver="save_thing")
    assert str(info.value).startswith("cannot read thing") and "\n" not in str(info.value)
