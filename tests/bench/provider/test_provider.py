"""ModelProvider: one baseline and one pruned model per ratio shared by the variants, both caches hit
by a second provider, int8 calibrated alike on training images, untrained models on unlabelled data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.data import DataSplits
from bench.errors import BenchError
from bench.provider.observer import SilentProgress
from bench.provider.provider import CompressionRequest, ModelProvider
from bench.training.requests import DataRequest, TrainingRequest
from bench.zoo.registry import ModelSpec, add_spec, remove_spec
from compress.variants import parse_variant

PRUNED, BOTH, INT8 = (parse_variant(name) for name in ("pruned-50", "pruned-50+int8", "int8"))


class Recorder(SilentProgress):
    """The phases announced, and how many training callbacks were asked for."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.callbacks = 0

    def on_phase(self, phase: str) -> None:
        self.phases.append(phase)

    def train_callback(self) -> None:
        self.callbacks += 1


def lenet(cache: Path, splits: DataSplits, observer: Recorder | None = None, name: str = "lenet5") -> ModelProvider:
    return ModelProvider(
        name,
        data=DataRequest("digits"),
        training=TrainingRequest(epochs=1, device="cpu", cache_dir=cache),
        compression=CompressionRequest(calib_images=64),
        observer=observer,
        splits_cache={32: splits},
    )


def test_variants_share_one_baseline_and_one_pruned_model(tmp_path: Path, small_digits) -> None:
    provider = lenet(tmp_path, small_digits)
    baseline = provider.variant(parse_variant("baseline"))
    pruned, both, int8 = provider.variant(PRUNED), provider.variant(BOTH), provider.variant(INT8)
    assert baseline.model is baseline.float_model is baseline.baseline.model is int8.float_model
    assert both.float_model is pruned.model, "pruned-50+int8 quantizes the model pruned-50 measured"
    assert pruned.model.features[0].out_channels == 3 and baseline.model.features[0].out_channels == 6
    assert pruned.pruned.source == "trained" and len(pruned.pruned.history) == 1
    assert pruned.pruned.top1_before_finetune is not None and pruned.pruned.evaluation.n == 360
    assert both.calibration == int8.calibration == "64 training images"  # `bench profile`'s wording too
    assert int8.quant.engine == "x86" and int8.model is not int8.float_model
    assert baseline.pruned is None and baseline.quant is None and pruned.quant is None


def test_a_second_provider_loads_both_caches_without_training(tmp_path: Path, small_digits) -> None:
    heard = Recorder()
    first = lenet(tmp_path, small_digits, heard).variant(PRUNED)
    # prune twice: the disk cache is looked up, then the model pruned (both count as pruning time)
    assert heard.phases == ["train", "prune", "prune", "evaluate", "finetune", "evaluate"]
    assert heard.callbacks == 2  # training, then fine-tuning
    stem = first.baseline.checkpoint_stem
    assert (tmp_path / "checkpoints" / f"{stem}.pt").is_file()
    names = sorted(path.name for path in (tmp_path / "pruned").iterdir())
    assert len(names) == 2 and all(re.fullmatch(rf"{stem}-p0\.5-l1-[0-9a-f]{{12}}\.(json|pt)", n) for n in names)

    heard_again = Recorder()
    again = lenet(tmp_path, small_digits, heard_again).variant(PRUNED)
    assert heard_again.phases == ["train", "prune"]  # no pruning, no fine-tuning
    assert again.baseline.source == "cached" and again.pruned.source == "cached"
    assert again.pruned.evaluation == first.pruned.evaluation
    assert again.pruned.top1_before_finetune == first.pruned.top1_before_finetune
    assert again.pruned.history == first.pruned.history
    state, cached = first.model.state_dict(), again.model.state_dict()
    assert state.keys() == cached.keys() and all(torch.equal(state[k], cached[k]) for k in state)


def test_trained_is_the_checkpoint_cache_of_obtain_model(tmp_path: Path, small_digits) -> None:
    trained = lenet(tmp_path, small_digits).trained()
    assert trained.source == "trained" and trained.checkpoint_path.parent == tmp_path / "checkpoints"
    cached = lenet(tmp_path, small_digits).trained()
    assert cached.source == "cached" and cached.evaluation == trained.evaluation


def test_unlabelled_data_gives_untrained_models_calibrated_on_random_inputs(tmp_path: Path) -> None:
    provider = ModelProvider(
        "lenet5",
        data=DataRequest("synthetic"),
        training=TrainingRequest(cache_dir=tmp_path),
        compression=CompressionRequest(calib_images=16),
    )
    both = provider.variant(BOTH)
    assert both.baseline.source == "untrained" and both.baseline.evaluation is None
    assert both.pruned.source == "untrained" and both.pruned.evaluation is None and both.pruned.history == []
    assert both.calibration == "16 random inputs"
    assert not (tmp_path / "checkpoints").exists()
    # the file name `bench run` has always used for this model (existing caches keep hitting)
    assert sorted(p.name for p in (tmp_path / "pruned").iterdir()) == [
        "lenet5-untrained-s0-p0.5-l1-ba3a61e3efb0.json",
        "lenet5-untrained-s0-p0.5-l1-ba3a61e3efb0.pt",
    ]


def test_search_tunes_on_the_providers_splits(small_digits, tmp_path: Path) -> None:
    result = lenet(tmp_path, small_digits).search({"epochs": [1], "lr": [5e-3]})
    assert result.model == "lenet5" and result.dataset == "digits" and len(result.trials) == 1
    assert result.best.status == "ok" and result.best.recipe.lr == 5e-3
    assert not (tmp_path / "checkpoints").exists()  # trials are throwaway models


class _Broken(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise BenchError("deliberately broken forward", "do not use it")


@pytest.fixture
def broken() -> str:
    spec = ModelSpec(
        name="test_provider_broken",
        family="test",
        year=2026,
        paper="-",
        builder=lambda **_: _Broken(),
        native_input_size=32,
        min_input_size=1,
        small_input="native",
        small_input_note="",
        classifier=(),
        norm=None,
        groups=("test",),
    )
    add_spec(spec)
    yield spec.name
    remove_spec(spec.name)


def test_a_failed_baseline_is_remembered(broken: str, tmp_path: Path, small_digits) -> None:
    provider = lenet(tmp_path, small_digits, name=broken)
    with pytest.raises(BenchError, match="deliberately broken"):
        provider.variant(PRUNED)
    assert isinstance(provider.baseline_error, BenchError)
