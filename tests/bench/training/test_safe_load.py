"""Weight files torch refuses: one line saying what the file is and why, no warnings, nothing run."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.training.safe_load import load_tensors
from bench.training.weights import read_state_dict


class Evil:
    """Unpickling this would run a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def raw_pickle(path: Path, marker: Path, protocol: int) -> Path:
    path.write_bytes(pickle.dumps(Evil(marker), protocol=protocol))  # pickling never calls os.system
    return path


def torch_archive(path: Path, marker: Path) -> Path:
    torch.save({"conv.weight": torch.zeros(1), "trap": Evil(marker)}, path)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p, m: raw_pickle(p, m, 4), "a raw pickle (protocol 4) that calls unsupported global posix.system"),
        (lambda p, m: raw_pickle(p, m, 2), "a raw pickle (protocol 2) that calls unsupported global posix.system"),
        (torch_archive, "a torch archive that calls unsupported global posix.system"),
        (lambda p, m: p.write_bytes(os.urandom(64).replace(b"\x80", b"\x00").replace(b"PK", b"pk")) and p,
         "not a zip or pickle file"),
        (lambda p, m: p.write_bytes(b"") and p, "an empty file"),
        (lambda p, m: p.write_text("hello, weights\n") and p, "not a zip or pickle file"),
    ],
    ids=["pickle-protocol-4", "pickle-protocol-2", "torch-archive", "random-bytes", "empty", "text"],
)  # fmt: skip
def test_a_refused_file_is_one_line_naming_what_it_is_and_why(tmp_path: Path, make, expected: str) -> None:
    marker = tmp_path / "pwned"
    path = make(tmp_path / "evil.pt", marker) or tmp_path / "evil.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a UserWarning from torch.load would fail the test
        with pytest.raises(BenchError) as info:
            read_state_dict(path)
    message = str(info.value)
    assert f"cannot load weights from {path}: {expected}" in message, message
    assert "\n" not in message and "weights_only" not in message and "trusted source" not in message
    assert "add_safe_globals" not in message
    assert not marker.exists()  # nothing ran


def test_a_state_dict_loads_quietly(tmp_path: Path) -> None:
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(load_tensors(tmp_path / "w.pt", what="weights", fix="-")["w"], torch.ones(2))


def test_a_truncated_archive_says_so(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(BenchError, match=r"cannot load weights from .*w.pt: a (damaged zip file|torch archive)"):
        read_state_dict(path)
