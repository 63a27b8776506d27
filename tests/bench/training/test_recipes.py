"""Recipes: preset, data set and family layers; fine-tuning; the learning-rate schedule."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.training import PRESETS, Recipe, finetune_recipe, get_recipe
from bench.training.recipes import BASE, family_keys, pruned_recipe
from bench.training.trainer import lr_factor_fn
from bench.zoo import get_model_spec, list_models


@pytest.mark.parametrize("preset", PRESETS)
def test_every_zoo_model_gets_a_valid_recipe(preset: str) -> None:
    for name in list_models(group="all"):
        recipe = get_recipe(get_model_spec(name), preset, "digits")
        assert recipe.epochs >= 1 and recipe.lr > 0 and recipe.batch_size >= 1


def test_quick_is_the_base_with_label_smoothing_and_warmup() -> None:
    recipe = get_recipe(get_model_spec("resnet18"), "quick", "digits")
    assert recipe.to_dict() == {**BASE["*"], "nesterov": False, "data_init": False}
    assert recipe.label_smoothing == 0.1 and recipe.warmup_epochs > 0 and recipe.schedule == "cosine"


def test_vgg_without_batch_norm_gets_clipping_and_a_gentler_rate() -> None:
    plain = get_recipe(get_model_spec("vgg16"), "quick", "digits")
    with_bn = get_recipe(get_model_spec("vgg16_bn"), "quick", "digits")
    assert family_keys(get_model_spec("vgg16")) == ["vgg", "vgg:no-norm"]
    assert plain.grad_clip_norm is not None and with_bn.grad_clip_norm is None
    assert plain.data_init and not with_bn.data_init
    assert plain.lr < with_bn.lr
    full = get_recipe(get_model_spec("vgg16"), "full", "digits")
    assert full.optimizer == "adamw" and full.grad_clip_norm == plain.grad_clip_norm  # SGD stalls there


def test_standard_is_a_longer_quick_with_the_same_family_rates() -> None:
    for name in ("vgg16", "lenet5", "resnet50"):
        quick = get_recipe(get_model_spec(name), "quick", "digits")
        standard = get_recipe(get_model_spec(name), "standard", "digits")
        assert standard.lr == quick.lr and standard.grad_clip_norm == quick.grad_clip_norm
        assert standard.epochs > quick.epochs


def test_presets_and_data_sets_change_the_schedule() -> None:
    spec = get_model_spec("resnet20")
    quick, standard, full = (get_recipe(spec, p, "cifar10") for p in PRESETS)
    assert quick.epochs < standard.epochs < full.epochs
    assert full.optimizer == "sgd" and full.epochs == 200
    assert get_recipe(spec, "full", "imagenet").epochs == 90


def test_families_scale_the_data_sets_epochs() -> None:
    lenet, vgg, resnet = (get_model_spec(n) for n in ("lenet5", "vgg16", "resnet18"))
    assert get_recipe(lenet, "quick", "digits").epochs == 2 * get_recipe(resnet, "quick", "digits").epochs

    def ratio(spec, dataset: str) -> float:
        return get_recipe(spec, "quick", dataset).epochs / get_recipe(resnet, "quick", dataset).epochs

    assert ratio(lenet, "digits") == ratio(lenet, "mnist") == 2
    assert ratio(vgg, "digits") > 1 and ratio(vgg, "mnist") > 1
    assert get_recipe(lenet, "standard", "digits").epochs == 60


def test_explicit_epochs_win() -> None:
    assert get_recipe(get_model_spec("lenet5"), "full", "digits", epochs=3).epochs == 3


def test_unknown_preset_is_a_bench_error() -> None:
    with pytest.raises(BenchError, match=r"unknown preset 'quik' \(did you mean quick\?\)"):
        get_recipe(get_model_spec("lenet5"), "quik", "digits")


def test_invalid_recipe_fields_are_rejected() -> None:
    with pytest.raises(BenchError, match="unknown optimizer"):
        Recipe(**{**BASE["*"], "optimizer": "lion"})
    with pytest.raises(BenchError, match="epochs must be at least 1"):
        get_recipe(get_model_spec("lenet5"), "quick", "digits", epochs=0)


def test_finetune_lowers_the_rate_and_shortens_the_run() -> None:
    recipe = get_recipe(get_model_spec("resnet20"), "quick", "digits")
    tuned = finetune_recipe(recipe)
    assert tuned.lr == pytest.approx(recipe.lr / 10)
    assert 1 <= tuned.epochs < recipe.epochs and tuned.warmup_epochs == 0
    assert tuned.optimizer == recipe.optimizer and tuned.grad_clip_norm == recipe.grad_clip_norm


def test_pruned_models_rerun_the_whole_schedule_without_data_init() -> None:
    recipe = get_recipe(get_model_spec("vgg11"), "quick", "digits")
    assert recipe.data_init  # plain VGG starts from a data-dependent init
    again = pruned_recipe(recipe)
    assert not again.data_init
    assert (again.lr, again.epochs, again.warmup_epochs) == (recipe.lr, recipe.epochs, recipe.warmup_epochs)


def test_recipe_round_trips_through_a_dict() -> None:
    recipe = get_recipe(get_model_spec("vgg11"), "standard", "mnist")
    assert Recipe.from_dict(recipe.to_dict()) == recipe


def test_lr_warms_up_linearly_then_decays_to_zero() -> None:
    recipe = Recipe(**{**BASE["*"], "epochs": 4, "warmup_epochs": 1.0})
    factor = lr_factor_fn(recipe, steps_per_epoch=10)
    warmup = [factor(step) for step in range(10)]
    assert warmup == sorted(warmup) and warmup[0] < 0.2 and factor(10) == pytest.approx(1.0)
    decay = [factor(step) for step in range(10, 40)]
    assert decay == sorted(decay, reverse=True) and decay[-1] < 0.01
    constant = lr_factor_fn(Recipe(**{**BASE["*"], "schedule": "constant", "warmup_epochs": 0}), 10)
    assert {constant(s) for s in range(0, 100, 7)} == {1.0}
