from __future__ import annotations

import gc
import statistics
import time

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.profiling.timing import (
    BLOCK_TOLERANCE,
    TimingConfig,
    measure_interleaved,
    measure_latency,
    percentile,
    summarize,
)


class Counter:
    """A callable that sleeps a little and counts its calls."""

    def __init__(self, sleep_s: float = 0.0) -> None:
        self.calls = 0
        self.sleep_s = sleep_s

    def __call__(self) -> None:
        self.calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)


def test_runs_at_least_min_iters_and_min_time() -> None:
    fn = Counter(sleep_s=0.002)
    config = TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=5, min_time_s=0.05)
    stats = measure_latency(fn, config=config)
    assert stats.iterations >= 5
    assert stats.total_s >= 0.05
    assert stats.warmup_iters == 2
    assert fn.calls == stats.iterations + stats.warmup_iters
    assert stats.mean_ms >= 2.0 and stats.p50_ms >= 2.0


def test_warmup_needs_both_iterations_and_seconds() -> None:
    fn = Counter(sleep_s=0.002)
    stats = measure_latency(fn, config=TimingConfig(warmup_iters=1, warmup_s=0.03, min_iters=1, min_time_s=0.0))
    assert stats.warmup_iters > 1  # one iteration is not 30 ms
    assert stats.iterations == 1


def test_max_iters_caps_the_timed_loop() -> None:
    fn = Counter()
    config = TimingConfig(warmup_iters=0, warmup_s=0.0, min_iters=3, min_time_s=10.0, max_iters=3)
    stats = measure_latency(fn, config=config)
    assert stats.iterations == 3 and fn.calls == 3


def test_max_time_caps_the_timed_loop() -> None:
    fn = Counter(sleep_s=0.005)
    config = TimingConfig(warmup_iters=0, warmup_s=0.0, min_iters=1000, min_time_s=0.0, max_time_s=0.03)
    stats = measure_latency(fn, config=config)
    assert 1 <= stats.iterations < 1000
    assert stats.total_s < 1.0


def test_after_iteration_runs_after_every_call() -> None:
    fn = Counter()
    seen: list[int] = []
    stats = measure_latency(
        fn,
        config=TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=4, min_time_s=0.0),
        after_iteration=lambda: seen.append(fn.calls),
    )
    assert seen == list(range(1, stats.warmup_iters + stats.iterations + 1))


def test_garbage_collector_is_paused_and_restored() -> None:
    states: list[bool] = []
    config = TimingConfig(warmup_iters=1, warmup_s=0, min_iters=2, min_time_s=0)
    measure_latency(lambda: states.append(gc.isenabled()), config=config)
    assert states and not any(states)
    assert gc.isenabled()


def test_summary_statistics_match_numpy() -> None:
    samples = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0, 7.0]
    stats = summarize(samples, warmup_iters=0, total_s=1.0)
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    for q, value in ((50, stats.p50_ms), (90, stats.p90_ms), (99, stats.p99_ms)):
        assert value == pytest.approx(np.percentile(samples, q))
    assert stats.std_ms == pytest.approx(statistics.stdev(samples))
    assert stats.p50_ms <= stats.p90_ms <= stats.p99_ms <= max(samples)


def test_single_sample_has_zero_spread() -> None:
    stats = summarize([2.5], warmup_iters=0, total_s=0.0)
    assert stats.std_ms == 0.0 and stats.p99_ms == 2.5
    with pytest.raises(ValueError):
        percentile([], 50)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_iters": 0},
        {"warmup_iters": -1},
        {"min_iters": 10, "max_iters": 5},
        {"min_time_s": -1.0},
        {"max_time_s": float("nan")},
    ],
)
def test_bad_configs_are_bench_errors(kwargs: dict) -> None:
    with pytest.raises(BenchError):
        TimingConfig(**kwargs)


@pytest.mark.gpu
def test_cuda_events_time_gpu_work() -> None:
    a = torch.randn(2048, 2048, device="cuda")
    stats = measure_latency(lambda: a @ a, device="cuda", config=TimingConfig(min_iters=5, min_time_s=0.05))
    assert stats.iterations >= 5 and stats.p50_ms > 0


def test_samples_and_blocks_are_kept_in_measurement_order() -> None:
    fn = Counter()
    config = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=20, min_time_s=0.0, blocks=5)
    stats = measure_latency(fn, config=config)
    assert len(stats.samples_ms) == stats.iterations == 20
    assert len(stats.block_medians_ms) == 5
    ordered = sorted(stats.samples_ms)
    assert stats.min_ms == ordered[0]
    assert stats.p25_ms == pytest.approx(np.percentile(ordered, 25))
    assert stats.p75_ms == pytest.approx(np.percentile(ordered, 75))


def test_blocks_whose_medians_disagree_give_a_warning() -> None:
    steady = summarize([1.0] * 50, warmup_iters=0, total_s=1.0, blocks=[[1.0] * 10] * 5)
    assert steady.warnings == ""
    # a tenth of the calls preempted in every block: the medians agree, no warning
    tail = [[1.0] * 9 + [30.0]] * 5
    assert summarize([v for b in tail for v in b], warmup_iters=0, total_s=1.0, blocks=tail).warnings == ""
    # a load that starts half-way: the last blocks are 1.5x slower
    drift = [[1.0] * 10] * 3 + [[1.5] * 10] * 2
    warned = summarize([v for b in drift for v in b], warmup_iters=0, total_s=1.0, blocks=drift)
    assert warned.warnings.startswith("unstable: the medians of 5 timing blocks differ by 50%")
    assert f"tolerance {BLOCK_TOLERANCE:.0%}" in warned.warnings


def test_interleaved_rounds_give_per_round_speedups() -> None:
    slow, fast = Counter(sleep_s=0.004), Counter(sleep_s=0.001)
    config = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=6, min_time_s=0.0)
    result = measure_interleaved([slow, fast], rounds=3, config=config)
    assert [len(s.block_medians_ms) for s in result.stats] == [3, 3]
    assert [s.iterations for s in result.stats] == [6, 6]
    assert result.speedups[0] == (1.0, 1.0, 1.0)
    median, low, high = result.speedup(1)
    assert low <= median <= high and median > 1.5  # 4 ms vs 1 ms (+ sleep overhead)
    assert slow.calls == fast.calls == 7
