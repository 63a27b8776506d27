"""The requests: what a recipe, device and freeze resolve to, and the splits a model needs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bench.data import get_dataset_spec
from bench.errors import BenchError
from bench.training.freeze import Freeze
from bench.training.recipes import get_recipe
from bench.training.requests import (
    BuildRequest,
    DataRequest,
    TrainingRequest,
    input_size_for,
    model_for_splits,
    splits_for_model,
    training_recipe,
)
from bench.zoo import get_model_spec

LENET, DIGITS = get_model_spec("lenet5"), get_dataset_spec("digits")


def test_the_recipe_is_the_presets_or_the_given_one_and_epochs_override_either() -> None:
    preset = get_recipe(LENET, "quick", "digits")
    assert training_recipe(LENET, DIGITS, TrainingRequest()) == preset
    assert training_recipe(LENET, DIGITS, TrainingRequest(epochs=2)) == replace(preset, epochs=2)
    tuned = replace(preset, lr=0.123, epochs=7)
    assert training_recipe(LENET, DIGITS, TrainingRequest(recipe=tuned)) == tuned
    assert training_recipe(LENET, DIGITS, TrainingRequest(recipe=tuned, epochs=1)) == replace(tuned, epochs=1)


def test_devices_and_freezes_may_be_given_as_flag_text() -> None:
    assert TrainingRequest(device="cpu").torch_device == torch.device("cpu")
    assert TrainingRequest(device=torch.device("cpu")).torch_device == torch.device("cpu")
    assert BuildRequest(freeze="2").parsed_freeze == Freeze("stages", 2)
    assert BuildRequest(freeze=Freeze("backbone")).parsed_freeze == Freeze("backbone")
    assert BuildRequest().parsed_freeze is None
    assert BuildRequest(weights="pretrained").pretrained and not BuildRequest(weights="w.pt").pretrained
    with pytest.raises(BenchError, match="unknown device"):
        assert TrainingRequest(device="tpu").torch_device


def test_splits_are_loaded_at_the_models_size_or_checked_against_it() -> None:
    alexnet = get_model_spec("alexnet")
    assert input_size_for(LENET, DIGITS) == 32 and input_size_for(alexnet, DIGITS) == 63
    splits = splits_for_model(LENET, DIGITS, DataRequest("digits"))
    assert (
        splits.input_shape == (1, 32, 32) and splits_for_model(LENET, DIGITS, DataRequest("digits"), splits) is splits
    )
    with pytest.raises(BenchError, match="alexnet needs 63x63 inputs"):
        splits_for_model(alexnet, DIGITS, DataRequest("digits"), splits)
    a, b = (model_for_splits("lenet5", splits, seed=3) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
