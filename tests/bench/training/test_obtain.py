"""obtain_model: trains or loads - the cache, --retrain, --weights PATH and --weights pretrained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

from bench.data import load_splits
from bench.errors import BenchError
from bench.training import BuildRequest, DataRequest, TrainingRequest, obtain_model
from bench.zoo.registry import ModelSpec, add_spec, remove_spec

RESNET18_FILE = "resnet18-f37072fd.pth"


@pytest.fixture(scope="module")
def small_digits():
    splits = load_splits("digits")
    return replace(splits, train=Subset(splits.train, range(320)), val=Subset(splits.val, range(90)))


def obtain(
    name: str, splits, cache: Path, *, seed: int = 0, retrain: bool = False, weights=None, on_damaged: str = "retrain"
):
    return obtain_model(
        name,
        data=DataRequest("digits", seed=seed),
        training=TrainingRequest(epochs=1, retrain=retrain, device="cpu", cache_dir=cache, on_damaged=on_damaged),
        build=BuildRequest(weights=weights),
        splits=splits,
    )


def test_trains_once_then_loads_the_identical_model_from_the_cache(small_digits, tmp_path: Path) -> None:
    first = obtain("lenet5", small_digits, tmp_path)
    assert first.source == "trained" and first.checkpoint_path.is_file()
    assert first.checkpoint_path.parent == tmp_path / "checkpoints"
    assert len(first.history) == 1 and first.best_epoch == 1 and first.train_seconds > 0
    assert first.evaluation.n == 360  # the full test split, never a training image

    cached = obtain("lenet5", small_digits, tmp_path)
    assert cached.source == "cached" and cached.checkpoint_path == first.checkpoint_path
    assert cached.evaluation == first.evaluation and cached.history == first.history
    assert cached.train_seconds == first.train_seconds and cached.best_val_top1 == first.best_val_top1
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), cached.model.state_dict().values()))

    retrained = obtain("lenet5", small_digits, tmp_path, retrain=True)
    assert retrained.source == "trained"
    assert retrained.evaluation.top1 == first.evaluation.top1  # same seed on the CPU, same accuracy


def test_the_seed_is_part_of_the_key(small_digits, tmp_path: Path) -> None:
    a = obtain("lenet5", small_digits, tmp_path, seed=1)
    b = obtain("lenet5", small_digits, tmp_path, seed=2)
    assert b.source == "trained" and a.checkpoint_path != b.checkpoint_path


def test_a_corrupt_cached_checkpoint_is_an_error_until_retrained(small_digits, tmp_path: Path) -> None:
    path = obtain("lenet5", small_digits, tmp_path).checkpoint_path
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(BenchError, match=rf"checkpoint {path} is corrupt .*--retrain, or delete"):
        obtain("lenet5", small_digits, tmp_path)
    assert obtain("lenet5", small_digits, tmp_path, retrain=True).source == "trained"
    assert obtain("lenet5", small_digits, tmp_path).source == "cached"


def test_a_cached_checkpoint_with_flipped_bits_is_never_used(small_digits, tmp_path: Path, flip_exponent_bits) -> None:
    first = obtain("lenet5", small_digits, tmp_path)
    path = first.checkpoint_path
    assert flip_exponent_bits(path) > 40_000  # every float of LeNet-5, the file still a valid zip
    with pytest.raises(BenchError, match=rf"checkpoint {path} is damaged: .*; rerun with --retrain, or delete"):
        obtain("lenet5", small_digits, tmp_path, on_damaged="stop")
    again = obtain("lenet5", small_digits, tmp_path)
    assert again.source == "trained" and again.checkpoint_path == path
    assert again.warnings == [
        f"checkpoint {path} is damaged: its tensors do not match the digest written when it was saved: training it again"
    ]
    assert again.evaluation.top1 == first.evaluation.top1  # trained afresh, the same seed: the same model
    cached = obtain("lenet5", small_digits, tmp_path)
    assert cached.source == "cached" and cached.warnings == []  # the damaged file was replaced
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), cached.model.state_dict().values()))


def test_weights_path_loads_a_checkpoint_or_state_dict_strictly(small_digits, tmp_path: Path) -> None:
    trained = obtain("lenet5", small_digits, tmp_path / "cache")
    from_file = obtain("lenet5", small_digits, tmp_path / "other", weights=trained.checkpoint_path)
    assert from_file.source == "file" and from_file.checkpoint_path is None
    assert from_file.evaluation.top1 == trained.evaluation.top1
    torch.save(nn.Linear(84, 5).state_dict(), tmp_path / "head.pt")
    with pytest.raises(BenchError, match=r"do not fit this model: .*missing features.0.weight"):
        obtain("lenet5", small_digits, tmp_path, weights=tmp_path / "head.pt")


def test_synthetic_data_has_nothing_to_train(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="synthetic has no labels"):
        obtain_model("lenet5", data=DataRequest("synthetic"), training=TrainingRequest(cache_dir=tmp_path))


def test_splits_must_have_the_models_input_size(small_digits, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"alexnet needs 63x63 inputs but the given splits are 32x32"):
        obtain("alexnet", small_digits, tmp_path)


class TinyImageNetNet(nn.Module):
    """A stand-in for a torchvision model: a stem conv, global pooling and an `fc` head."""

    def __init__(self, *, num_classes: int, in_chans: int, input_size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv1(x)).mean(dim=(2, 3)))


@pytest.fixture
def tiny_pretrained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A registered model whose 'torchvision weights' file sits in a temporary TORCH_HOME."""
    spec = ModelSpec(
        name="tiny_pretrained",
        family="test",
        year=2024,
        paper="test double",
        builder=TinyImageNetNet,
        native_input_size=32,
        min_input_size=8,
        small_input="native",
        small_input_note="",
        classifier=("fc",),
        norm=None,
        groups=("test",),
        torchvision_name="resnet18",
    )
    add_spec(spec)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(TinyImageNetNet(num_classes=1000, in_chans=3, input_size=224).state_dict(), hub / RESNET18_FILE)
    yield spec
    remove_spec(spec.name)


def test_pretrained_weights_are_fine_tuned_when_the_head_is_new(small_digits, tmp_path: Path, tiny_pretrained) -> None:
    cache = tmp_path / "cache"
    tuned = obtain("tiny_pretrained", small_digits, cache, weights="pretrained")
    assert tuned.source == "pretrained" and len(tuned.history) == 1
    assert tuned.notes[0] == f"loaded 2 of 4 tensors from {RESNET18_FILE}"  # conv1 (adapted); fc is new
    assert "adapted conv1.weight from 3 input channels" in tuned.notes
    assert any(note.startswith("re-initialised fc") for note in tuned.notes)
    scratch = obtain("tiny_pretrained", small_digits, cache)
    assert scratch.source == "trained" and scratch.checkpoint_path != tuned.checkpoint_path
    again = obtain("tiny_pretrained", small_digits, cache, weights="pretrained")
    assert again.source == "cached" and again.evaluation == tuned.evaluation and again.notes == tuned.notes
