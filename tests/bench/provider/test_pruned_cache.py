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


def test_a_latency_goal_is_its_own_key_and_names_where_it_was_measured(tmp_path: Path) -> None:
    common = {"criterion": "l1", "recipe": None, "seed": 0}
    ratio = pruned_cache_path(tmp_path, "lenet5-untrained-s0", ratio=0.5, **common)
    cpu = {"device": "cpu", "threads": 1}
    goal = pruned_cache_path(tmp_path, "lenet5-untrained-s0", target="speedup:2", measured_on=cpu, **common)
    assert goal.name.startswith("lenet5-untrained-s0-t2x-l1-") and goal != ratio
    other = pruned_cache_path(
        tmp_path, "lenet5-untrained-s0", target="speedup:2", measured_on={**cpu, "threads": 2}, **common
    )
    assert other != goal  # measured with other threads: another model
    assert pruned_cache_path(tmp_path, "lenet5-untrained-s0", target="speedup:3", measured_on=cpu, **common) != goal


def test_the_search_record_travels_with_the_model_through_the_disk(tmp_path: Path, pruned: PrunedModel) -> None:
    from compress.latency_prune import Attempt, LatencyPruning

    widths = {"features.0": 3, "features.3": 8, "features.6": 64}
    record = LatencyPruning(
        target="speedup:2", speedup=2.1, low=1.9, high=2.2, reached=True, widths=widths,
        full_widths={"features.0": 6, "features.3": 16, "features.6": 120},
        attempts=(Attempt(2.0, 2.3, 2.1, 1.9, 2.2, widths),), multiple=8, batch_size=1, device="cpu",
        table_truncated=False, table_seconds=4.0, table_cached=False,
    )  # fmt: skip
    path = tmp_path / "t.pt"

    def cache() -> PrunedModelCache:
        return PrunedModelCache(
            {}, path_for=lambda key: path, fresh_model=fresh, phase=lambda name: contextlib.nullcontext()
        )

    cache().save("speedup:2", Pruned(pruned.model, finetuned=pruned, latency=record))
    loaded = cache().load("speedup:2")
    assert loaded is not None and loaded.latency == record
    assert loaded.model.features[0].out_channels == 3
