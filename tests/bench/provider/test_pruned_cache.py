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


def _cache(path: Path, notices: list[str], on_damaged: str = "retrain") -> PrunedModelCache:
    return PrunedModelCache(
        {},
        path_for=lambda ratio: path,
        fresh_model=fresh,
        phase=lambda name: contextlib.nullcontext(),
        notice=notices.append,
        on_damaged=on_damaged,
    )


def test_a_pruned_model_with_flipped_bits_is_reported_and_built_again(
    tmp_path: Path, pruned: PrunedModel, flip_exponent_bits
) -> None:
    from bench.training.checkpoint import DamagedCheckpoint

    path = tmp_path / "pruned" / "m.pt"
    save_cached_pruned(path, pruned)
    notices: list[str] = []
    assert _cache(path, notices).load(0.5) is not None and notices == []
    assert flip_exponent_bits(path) > 1000  # the file still a valid zip
    assert _cache(path, notices).load(0.5) is None  # a miss: pruned and fine-tuned again
    assert notices == [
        f"pruned model {path} is damaged: its tensors do not match the digest written when it was saved: "
        "building it again"
    ]
    with pytest.raises(DamagedCheckpoint, match=rf"pruned model {path} is damaged: .*; delete {path} and m.json"):
        _cache(path, [], on_damaged="stop").load(0.5)


def test_a_pruned_pair_without_a_digest_or_unreadable_is_never_used(tmp_path: Path, pruned: PrunedModel) -> None:
    import json

    path = tmp_path / "m.pt"
    save_cached_pruned(path, pruned)
    meta = json.loads(path.with_suffix(".json").read_text())
    del meta["digest"]  # as written before the digest
    path.with_suffix(".json").write_text(json.dumps(meta))
    notices: list[str] = []
    assert _cache(path, notices).load(0.5) is None and "has no digest of its tensors" in notices[0]
    path.write_bytes(b"garbage")
    assert _cache(path, notices).load(0.5) is None and f"pruned model {path} is unreadable" in notices[1]
