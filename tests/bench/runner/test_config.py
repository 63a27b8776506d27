"""bench.runner.config: --resume compares every recorded setting but the few that may change."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.profiling.timing import TimingConfig
from bench.runner.config import RESUME_MAY_CHANGE, RunConfig, check_resumable, resume_differences

BASE = RunConfig(models=("lenet5",), out_dir=Path("runs/a"), batch_sizes=(1,))


def test_settings_that_only_extend_the_run_or_say_where_things_are_may_change() -> None:
    grown = replace(
        BASE,
        models=("lenet5", "resnet20"),
        out_dir=Path("/abs/runs/a"),
        prune_ratios=(0.3, 0.5),
        prune_targets=("speedup:2",),
        norms=("bn", "gn"),
        quantize=None,
        resume=True,
        baseline=Path("base.json"),
        cache_dir=Path("/cache"),
        download=True,
    )
    assert resume_differences(BASE.to_dict(), grown.to_dict()) == []


@pytest.mark.parametrize(
    ("change", "difference"),
    [
        ({"batch_sizes": (1, 32)}, "batch_sizes [1] -> [1, 32]"),
        ({"engine": "qnnpack"}, "engine 'x86' -> 'qnnpack'"),
        ({"importance": "l2"}, "importance 'l1' -> 'l2'"),
        ({"calib_images": 64}, "calib_images 512 -> 64"),
        ({"timing": TimingConfig(min_iters=3)}, "timing.min_iters"),
        ({"epochs": 2}, "epochs none -> 2"),
        ({"threads": 1}, "threads none -> 1"),
        ({"dropout": 0.3}, "dropout none -> 0.3"),
        ({"max_drop": 1.0}, "max_drop none -> 1.0"),  # it shapes the int8 cells
    ],
)
def test_every_other_setting_is_compared(change: dict, difference: str) -> None:
    (found,) = resume_differences(BASE.to_dict(), replace(BASE, **change).to_dict())
    assert found.startswith(difference)


def test_every_field_is_compared_unless_listed_as_free_to_change() -> None:
    """A field added to RunConfig is checked on resume without anyone listing it."""
    compared = {f.name for f in fields(RunConfig)} - RESUME_MAY_CHANGE
    assert {"batch_sizes", "engine", "importance", "calib_images", "timing", "seed", "device"} <= compared
    stored = BASE.to_dict() | {"new_setting": 1}
    assert resume_differences(stored, BASE.to_dict() | {"new_setting": 2}) == ["new_setting 1 -> 2"]
    assert resume_differences(BASE.to_dict(), BASE.to_dict() | {"new_setting": 2}) == []  # an older run


def test_a_refused_resume_names_each_difference() -> None:
    changed = replace(BASE, batch_sizes=(1, 32), engine="qnnpack", seed=1)
    with pytest.raises(BenchError) as info:
        check_resumable(BASE.to_dict(), changed)
    message = str(info.value)
    assert message.startswith("cannot resume runs/a: it was started with other settings (")
    for part in ("seed 0 -> 1", "engine 'x86' -> 'qnnpack'", "batch_sizes [1] -> [1, 32]"):
        assert part in message


def test_latency_goals_add_their_variants_and_measure_where_the_rows_are_timed() -> None:
    config = replace(BASE, prune_targets=("speedup:1.5",), batch_sizes=(32, 4), threads=1, prune_budget_s=30.0)
    names = [v.name for v in config.variants()]
    assert names == ["baseline", "pruned-50", "pruned-1.5x", "int8", "pruned-50+int8", "pruned-1.5x+int8"]
    assert config.to_dict()["prune_targets"] == ["speedup:1.5"]
    latency = config.compression.latency
    assert (latency.device, latency.batch_size, latency.threads, latency.budget_s) == ("cpu", 4, 1, 30.0)
    assert latency.check_timing == config.timing
    (found,) = resume_differences(config.to_dict(), replace(config, prune_budget_s=60.0).to_dict())
    assert found.startswith("prune_budget_s 30.0 -> 60.0")  # it shapes what the search measures
