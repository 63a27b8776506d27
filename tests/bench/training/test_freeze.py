"""Transfer learning: frozen layers come out bit for bit unchanged, the rest trains, bad input is one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset

from bench.data import load_splits
from bench.errors import BenchError
from bench.training import BuildRequest, DataRequest, TrainingRequest, obtain_model
from bench.training.freeze import (
    Freeze,
    frozen,
    parse_freeze,
    plan_freeze,
    set_train_mode,
    trained_layers,
)
from bench.training.recipes import get_recipe
from bench.training.trainer import build_optimizer
from bench.zoo import create_model, get_model_spec


@pytest.fixture(scope="module")
def small_digits():
    splits = load_splits("digits")
    return replace(
        splits,
        train=Subset(splits.train, range(192)),
        val=Subset(splits.val, range(64)),
        test=Subset(splits.test, range(64)),
    )


def saved_weights(tmp_path: Path, name: str, num_classes: int = 10) -> tuple[Path, dict[str, torch.Tensor]]:
    """A state dict of a freshly built ``name`` on disk (the --weights PATH a user would pass)."""
    torch.manual_seed(123)
    state = create_model(name, num_classes=num_classes, in_chans=1, input_size=32).state_dict()
    path = tmp_path / f"{name}.pt"
    torch.save(state, path)
    return path, state


def fine_tune(name: str, splits, tmp_path: Path, path: Path, freeze: str):
    return obtain_model(
        name,
        data=DataRequest("digits"),
        training=TrainingRequest(epochs=1, device="cpu", cache_dir=tmp_path),
        build=BuildRequest(weights=path, freeze=freeze),
        splits=splits,
    )


@pytest.mark.parametrize(("text", "label"), [("backbone", "backbone"), ("none", "none"), ("0", "none"), (" 2", "2")])
def test_parse_freeze(text: str, label: str) -> None:
    assert parse_freeze(text).label == label


@pytest.mark.parametrize("text", ["-1", "all", "1.5", ""])
def test_bad_freeze_values_are_one_line_errors(text: str) -> None:
    with pytest.raises(BenchError, match="is not backbone, none or a stage count"):
        parse_freeze(text)


def test_freezing_past_the_last_stage_names_the_stage_count() -> None:
    model = create_model("lenet5", num_classes=10, in_chans=1, input_size=32)
    with pytest.raises(BenchError) as info:
        plan_freeze(model, get_model_spec("lenet5"), parse_freeze("4"))
    assert str(info.value) == "--freeze 4: lenet5 has 3 stages; pass --freeze 1 to 3, backbone or none"


def test_a_freeze_needs_weights_to_start_from(small_digits, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--freeze backbone needs weights to start from"):
        obtain_model(
            "lenet5",
            data=DataRequest("digits"),
            training=TrainingRequest(device="cpu", cache_dir=tmp_path),
            build=BuildRequest(freeze="backbone"),
            splits=small_digits,
        )


def test_frozen_parameters_leave_the_optimizer_and_their_batch_norms_stay_in_eval() -> None:
    model = create_model("resnet20", num_classes=10, in_chans=1, input_size=32)
    plan = plan_freeze(model, get_model_spec("resnet20"), Freeze("stages", 1))
    recipe = get_recipe(get_model_spec("resnet20"), "quick", "digits")
    with frozen(model, plan) as trainable:
        optimized = {id(p) for group in build_optimizer(model, recipe).param_groups for p in group["params"]}
        assert optimized == {id(p) for name, p in model.named_parameters() if name in trainable}
        assert trained_layers(model, trainable) == ["layer2", "layer3", "fc"]
        set_train_mode(model)
        assert not model.bn1.training and not model.layer1[2].bn2.training
        assert model.layer2[0].bn1.training and model.training
    assert all(p.requires_grad for p in model.parameters())  # restored after the block


def test_first_stages_frozen_stay_bit_for_bit_while_later_ones_and_the_head_train(small_digits, tmp_path: Path) -> None:
    path, start = saved_weights(tmp_path, "resnet20")
    trained = fine_tune("resnet20", small_digits, tmp_path, path, "2")
    after = trained.model.state_dict()
    frozen_keys = [k for k in start if k.split(".")[0] in {"conv1", "bn1", "layer1", "layer2"}]
    assert len(frozen_keys) == 6 + 6 * 12  # stem conv + BN (5 tensors), six blocks of two convs + two BNs
    for key in frozen_keys:  # weights and BN running statistics alike
        assert torch.equal(after[key].cpu(), start[key]), key
    assert not torch.equal(after["fc.weight"].cpu(), start["fc.weight"])
    assert not torch.equal(after["layer3.2.conv2.weight"].cpu(), start["layer3.2.conv2.weight"])
    assert not torch.equal(after["layer3.2.bn2.running_mean"].cpu(), start["layer3.2.bn2.running_mean"])
    assert trained.trained_layers == ["layer3", "fc"] and trained.freeze == Freeze("stages", 2)
    assert any(note.startswith("--freeze 2: trained layer3, fc (20 of 59") for note in trained.notes)
    assert all(p.requires_grad for p in trained.model.parameters())  # an ordinary model comes out

    cached = fine_tune("resnet20", small_digits, tmp_path, path, "2")
    assert cached.source == "cached" and cached.trainable == trained.trainable
    other = fine_tune("resnet20", small_digits, tmp_path, path, "backbone")
    assert other.checkpoint_path != trained.checkpoint_path  # the freeze is part of the key


def test_a_frozen_backbone_trains_only_the_classifier_replaced_for_the_class_count(
    small_digits, tmp_path: Path
) -> None:
    path, start = saved_weights(tmp_path, "lenet5", num_classes=5)  # weights for another task
    trained = fine_tune("lenet5", small_digits, tmp_path, path, "backbone")
    after = trained.model.state_dict()
    for key in (k for k in start if k.startswith("features.")):
        assert torch.equal(after[key].cpu(), start[key]), key
    assert after["classifier.3.weight"].shape == (10, 84)
    assert not torch.equal(after["classifier.1.weight"].cpu(), start["classifier.1.weight"])
    assert trained.trained_layers == ["classifier"]
    assert "re-initialised classifier.3 (shape differs from ImageNet's)" in trained.notes
