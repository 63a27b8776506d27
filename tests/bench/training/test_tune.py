"""Grid search: parsing and validating the grid, ranking on the validation split, the recipe file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from torch.utils.data import Dataset, Subset

from bench.data import load_splits
from bench.errors import BenchError
from bench.training import tune as tune_module
from bench.training.recipes import get_recipe
from bench.training.requests import DataRequest, TrainingRequest
from bench.training.tune import (
    default_recipe_path,
    grid_points,
    load_recipe,
    parse_grid,
    save_recipe,
    tune,
)
from bench.zoo import get_model_spec

DIGITS = DataRequest("digits")
CPU = TrainingRequest(device="cpu")


class _Untouchable(Dataset):
    """A test split that fails the moment anything reads it."""

    def __len__(self) -> int:
        raise AssertionError("tuning read the test split")

    def __getitem__(self, index: int):
        raise AssertionError("tuning read the test split")


@pytest.fixture(scope="module")
def small_digits():
    splits = load_splits("digits")
    return replace(
        splits, train=Subset(splits.train, range(320)), val=Subset(splits.val, range(90)), test=_Untouchable()
    )


def test_grid_values_take_the_recipe_field_types_and_adam_runs_as_adamw() -> None:
    grid = parse_grid(["lr=0.01,1e-1,0.01", "optimizer=SGD,adam,adamw", "batch_size=32", "epochs=2", "weight_decay=0"])
    assert grid == {
        "lr": [0.01, 0.1],
        "optimizer": ["sgd", "adamw"],
        "batch_size": [32],
        "epochs": [2],
        "weight_decay": [0.0],
    }
    assert grid_points({"lr": [1, 2], "optimizer": ["sgd", "adamw"]}) == [
        {"lr": 1, "optimizer": "sgd"},
        {"lr": 1, "optimizer": "adamw"},
        {"lr": 2, "optimizer": "sgd"},
        {"lr": 2, "optimizer": "adamw"},
    ]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["learning_rate=0.1"], "unknown grid key 'learning_rate' (did you mean lr?)"),
        (["lr_max=0.1"], "(did you mean lr?)"),
        (["wd=0"], "(did you mean weight_decay?)"),
        (["l=0.1"], "unknown grid key 'l'"),
        (["bach_size=32"], "(did you mean batch_size?)"),
        (["amp=true"], "recipe field 'amp' cannot be tuned"),
        (["lr=0"], "--grid lr: 0 is out of range (must be above 0)"),
        (["lr=fast"], "--grid lr: 'fast' is not a number"),
        (["batch_size=1.5"], "--grid batch_size: '1.5' is not an integer"),
        (["epochs=0"], "must be at least 1"),
        (["momentum=1"], "below 1"),
        (["lr=nan"], "out of range"),
        (["optimizer=rmsprop"], "--grid optimizer: unknown value 'rmsprop'"),
        (["schedule=step"], "unknown value 'step'"),
        (["lr"], "bad --grid 'lr'; write KEY=V1,V2"),
        (["lr="], "bad --grid 'lr='"),
        (["lr=0.1", "lr=0.2"], "--grid lr is given twice"),
        ([], "no --grid given"),
        (
            [
                "lr=" + ",".join(str(0.001 * i) for i in range(1, 18)),
                "batch_size=" + ",".join(str(i) for i in range(1, 17)),
            ],
            "more than 256",
        ),
    ],
)
def test_bad_grids_are_one_line_errors(specs: list[str], message: str) -> None:
    with pytest.raises(BenchError) as info:
        parse_grid(specs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_tune_ranks_trials_by_validation_accuracy_without_reading_the_test_split(small_digits) -> None:
    grid = {"lr": [1e-4, 5e-3], "epochs": [1]}
    result = tune("lenet5", grid=grid, data=DIGITS, training=CPU, splits=small_digits)
    assert [t.status for t in result.trials] == ["ok", "ok"]
    scores = [(t.val_top1, -t.val_loss) for t in result.trials]
    assert scores == sorted(scores, reverse=True)
    assert result.best.params == {"lr": 5e-3, "epochs": 1}  # a 50x larger rate learns far more in one epoch
    base = get_recipe(get_model_spec("lenet5"), "quick", "digits")
    assert result.base_recipe == base and result.best.recipe == replace(base, lr=5e-3, epochs=1)
    assert all(t.best_epoch == 1 and len(t.history) == 1 and t.seconds > 0 for t in result.trials)


def test_a_diverging_trial_is_recorded_and_ranked_last(small_digits, monkeypatch) -> None:
    real_fit = tune_module.fit

    def fit(model, splits, recipe, **kwargs):
        if recipe.lr > 1:
            raise BenchError("training diverged: the loss became nan in epoch 1", "lower the rate")
        return real_fit(model, splits, recipe, **kwargs)

    monkeypatch.setattr(tune_module, "fit", fit)
    result = tune("lenet5", grid={"lr": [10.0, 1e-3], "epochs": [1]}, data=DIGITS, training=CPU, splits=small_digits)
    assert [(t.params["lr"], t.status) for t in result.trials] == [(1e-3, "ok"), (10.0, "failed")]
    assert "diverged" in result.trials[1].error and result.trials[1].val_top1 is None
    assert result.trials[1].index == 1  # the grid order is kept in the trial numbers

    with pytest.raises(BenchError, match="every trial of the grid failed"):
        tune("lenet5", grid={"lr": [10.0, 20.0]}, data=DIGITS, training=CPU, splits=small_digits)


def test_tune_refuses_data_without_labels() -> None:
    with pytest.raises(BenchError, match="synthetic has no labels"):
        tune("lenet5", grid={"lr": [0.1]}, data=DataRequest("synthetic"), training=CPU)


def test_the_saved_best_recipe_loads_back_identical(small_digits, tmp_path: Path) -> None:
    result = tune("lenet5", grid={"epochs": [1], "optimizer": ["sgd"]}, data=DIGITS, training=CPU, splits=small_digits)
    path = save_recipe(result, tmp_path / "deep" / "best.json")
    assert load_recipe(path) == result.best.recipe
    tuned = json.loads(path.read_text())["tuned"]
    assert (
        tuned["model"] == "lenet5"
        and tuned["score"] == "val_top1"
        and tuned["params"] == {"epochs": 1, "optimizer": "sgd"}
    )
    assert default_recipe_path("lenet5", "digits") == Path("tune/lenet5-digits.json")


def _recipe_file(tmp_path: Path, **changes) -> Path:
    recipe = get_recipe(get_model_spec("lenet5"), "quick", "digits").to_dict()
    payload = {"format": "cnnbench-recipe", "version": 1, "recipe": recipe}
    for key, value in changes.items():
        if key in payload:
            payload[key] = value
        elif value is None:
            recipe.pop(key)
        else:
            recipe[key] = value
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(payload))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "cnnbench-results"}, "is not a cnnbench recipe file"),
        ({"version": 2}, "has version 2, not 1"),
        ({"recipe": [1, 2]}, "has no recipe object"),
        ({"dropout": 0.5}, "has unknown fields dropout"),
        ({"lr": None}, "has missing fields lr"),
        ({"lr": "fast"}, "lr = 'fast' is not of type float"),
        ({"epochs": True}, "epochs = True is not of type int"),
        ({"epochs": 2.5}, "is not of type int"),
        ({"grad_clip_norm": "x"}, "is not of type float or null"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"epochs": 0}, "epochs = 0 is out of range (must be at least 1)"),
        ({"weight_decay": -0.1}, "weight_decay = -0.1 is out of range"),
    ],
)
def test_corrupt_or_foreign_recipe_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, changes: dict, message: str
) -> None:
    path = _recipe_file(tmp_path, **changes)
    with pytest.raises(BenchError) as info:
        load_recipe(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_unreadable_recipe_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        load_recipe(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "cnnbench-recipe",')
    with pytest.raises(BenchError, match=r"is not valid JSON \(line 1"):
        load_recipe(broken)
    older = _recipe_file(tmp_path, nesterov=None, lr=1)  # a field with a default may be absent
    recipe = load_recipe(older)
    assert recipe.nesterov is False and isinstance(recipe.lr, float) and recipe.lr == 1.0
