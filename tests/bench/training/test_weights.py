"""Weights from files (strict) and torchvision's ImageNet weights (merged), all offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from bench.errors import BenchError
from bench.training.weights import (
    load_pretrained,
    load_state_strict,
    merge_pretrained,
    pretrained_file,
    read_state_dict,
)
from bench.zoo import create_model, get_model_spec

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1 file name


@pytest.fixture
def torch_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def imagenet_resnet18(torch_home: Path) -> dict[str, torch.Tensor]:
    """torchvision's ResNet-18 with ImageNet shapes, saved where torch.hub keeps its weights."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18(weights=None).state_dict()
    torch_home.mkdir(parents=True)
    torch.save(state, torch_home / RESNET18_FILE)
    return state


def lenet(num_classes: int = 10) -> nn.Module:
    return create_model("lenet5", num_classes=num_classes, in_chans=1)


@pytest.mark.parametrize("wrap", ["bare", "state_dict", "model", "module-prefix"])
def test_read_state_dict_unwraps_common_layouts(tmp_path: Path, wrap: str) -> None:
    state = lenet().state_dict()
    payload = {
        "bare": state,
        "state_dict": {"state_dict": state, "history": [{"epoch": 1}]},
        "model": {"model": state, "epoch": 3},
        "module-prefix": {f"module.{k}": v for k, v in state.items()},
    }[wrap]
    torch.save(payload, tmp_path / "w.pt")
    loaded = read_state_dict(tmp_path / "w.pt")
    assert list(loaded) == list(state) and all(torch.equal(loaded[k], state[k]) for k in state)


def test_read_state_dict_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pt")
    torch.save({"epoch": 3}, tmp_path / "no_tensors.pt")
    with pytest.raises(BenchError, match="holds no state dict of tensors"):
        read_state_dict(tmp_path / "no_tensors.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(BenchError, match=r"cannot load weights from .*junk.pt"):
        read_state_dict(tmp_path / "junk.pt")


def test_strict_loading_names_the_mismatched_layers() -> None:
    state = lenet(num_classes=5).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["features.0.bias"]
    with pytest.raises(BenchError) as info:
        load_state_strict(lenet(), state, source="w.pt")
    message = str(info.value)
    assert "shape mismatch in classifier.3.weight (5, 84) vs (10, 84), classifier.3.bias (5,) vs (10,)" in message
    assert "missing features.0.bias" in message and "unexpected extra.weight" in message
    assert "\n" not in message


def test_pretrained_weights_load_offline_with_an_adapted_stem_and_a_new_head(imagenet_resnet18) -> None:
    model = create_model("resnet18", num_classes=10, in_chans=1, input_size=32)
    fresh_fc = model.fc.weight.clone()
    report = load_pretrained(model, get_model_spec("resnet18"))
    assert report.source == RESNET18_FILE
    assert report.adapted == ["conv1.weight"] and report.reinitialised == ["fc"]
    assert report.loaded == report.total - 2  # fc.weight and fc.bias keep their fresh values
    loaded = model.state_dict()
    assert torch.allclose(loaded["conv1.weight"], imagenet_resnet18["conv1.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(loaded["layer4.1.conv2.weight"], imagenet_resnet18["layer4.1.conv2.weight"])
    assert torch.equal(model.fc.weight, fresh_fc)
    notes = report.notes()
    assert notes[0] == f"loaded {report.loaded} of {report.total} tensors from {RESNET18_FILE}"
    assert any("re-initialised fc" in note for note in notes)


def test_pretrained_weights_with_imagenet_classes_load_completely(imagenet_resnet18) -> None:
    model = create_model("resnet18", num_classes=1000, in_chans=3, input_size=224)
    report = load_pretrained(model, get_model_spec("resnet18"))
    assert report.loaded == report.total and not (report.adapted or report.reinitialised or report.skipped)


def test_missing_pretrained_file_names_it_and_the_fix_without_downloading(torch_home: Path) -> None:
    with pytest.raises(BenchError) as info:
        pretrained_file(get_model_spec("resnet18"), download=False)
    message = str(info.value)
    assert str(torch_home / RESNET18_FILE) in message and "--download" in message
    assert not torch_home.exists()


def test_models_without_torchvision_weights_say_so() -> None:
    with pytest.raises(BenchError, match="lenet5 has no torchvision ImageNet weights"):
        pretrained_file(get_model_spec("lenet5"), download=False)


def test_merge_refuses_convolutions_of_another_shape() -> None:
    model = lenet()
    state = dict(model.state_dict())
    state["features.3.weight"] = torch.zeros(32, 6, 5, 5)  # C3 with 32 maps instead of 16
    state["aux.weight"] = torch.zeros(3)
    with pytest.raises(BenchError, match=r"shape mismatch in features.3.weight \(32, 6, 5, 5\) vs \(16, 6, 5, 5\)"):
        merge_pretrained(model, state, source="odd.pth")
    del state["features.3.weight"]
    with pytest.raises(BenchError, match=r"no weights for features.3.weight"):
        merge_pretrained(model, state, source="odd.pth")
