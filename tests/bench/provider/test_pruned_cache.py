"""The pruned-model cache: file names keyed as they always were, whole pairs only, memory before disk."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from bench.provider.pruned_cache import (
    PrunedModel,
    PrunedModelCache,
    load_cached_pruned,
    pruned_cache_path,
    save_cached_pruned,
)
from bench.zoo import create_model
from compress.apply import Pruned
from compress.pruning import prune_model


def fresh() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


@pytest.fixture
def pruned() -> PrunedModel:
    model = fresh()
    prune_model(model, ratio=0.5, example_inputs=torch.randn(2, 1, 32, 32))
    return PrunedModel(model, "trained", 12.5, None, [{"epoch": 1.0}], 3.0)


def test_the_path_names_the_baseline_ratio_criterion_and_a_digest_of_the_rest(tmp_path: Path) -> None:
    path = pruned_cache_path(tmp_path, "lenet5-untrained-s0", ratio=0.5, criterion="l1", recipe=None, seed=0)
    assert path == tmp_path / "pruned" / "lenet5-untrained-s0-p0.5-l1-ba3a61e3efb0.pt"  # unchanged since 0.1
    other = pruned_cache_path(tmp_path, "lenet5-untrained-s0", ratio=0.5, criterion="l1", recipe=None, seed=1)
    assert other != path and other.name.startswith("lenet5-untrained-s0-p0.5-l1-")


def test_a_saved_pair_loads_back_as_cached_and_a_half_pair_not_at_all(tmp_path: Path, pruned: PrunedModel) -> None:
    path = tmp_path / "pruned" / "m.pt"
    save_cached_pruned(path, pruned)
    loaded = load_cached_pruned(path, fresh())
    assert loaded.source == "cached" and loaded.top1_before_finetune == 12.5 and loaded.finetune_seconds == 3.0
    assert loaded.history == [{"epoch": 1.0}] and loaded.model.features[0].out_channels == 3
    path.with_suffix(".json").unlink()
    assert load_cached_pruned(path, fresh()) is None


def test_memory_comes_before_disk_and_saving_fills_both(tmp_path: Path, pruned: PrunedModel) -> None:
    phases: list[str] = []

    @contextlib.contextmanager
    def phase(name: str):
        phases.append(name)
        yield

    path = tmp_path / "p.pt"
    cache = PrunedModelCache({}, path_for=lambda ratio: path, fresh_model=fresh, phase=phase)
    assert cache.load(0.5) is None and phases == ["prune"]  # a miss reads the disk inside the prune phase
    cache.save(0.5, Pruned(pruned.model, finetuned=pruned))
    assert path.is_file() and path.with_suffix(".json").is_file()
    hit = cache.load(0.5)
    assert hit.model is pruned.model and hit.finetuned is pruned and phases == ["prune"]

    from_disk = PrunedModelCache({}, path_for=lambda ratio: path, fresh_model=fresh, phase=phase).load(0.5)
    assert from_disk.finetuned.source == "cached" and from_disk.model.features[0].out_channels == 3
