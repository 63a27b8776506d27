"""Latency measurement: explicit warm-up, then enough timed iterations to trust the figures.

Warm-up runs until it has done ``warmup_iters`` iterations AND spent ``warmup_s`` seconds
(first calls pay for allocator growth, kernel selection, cudnn autotuning, lazy
initialisation). The timed loop then runs until it has done ``min_iters`` iterations AND
spent ``min_time_s`` seconds, stopping early only at ``max_iters`` or ``max_time_s`` (so one
slow model cannot stall a sweep). Each call of :func:`measure_latency` warms up afresh, so
every input shape gets its own warm-up.

On CUDA every iteration is bracketed by CUDA events and synchronized, so the figure is GPU
time, not launch time; on the CPU ``time.perf_counter`` brackets each call. The garbage
collector is paused during both loops, as ``timeit`` does.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from bench.errors import BenchError


@dataclass(frozen=True)
class TimingConfig:
    """How long to warm up and to measure; see the module docstring for the stopping rules."""

    warmup_iters: int = 5
    warmup_s: float = 0.3
    min_iters: int = 20
    min_time_s: float = 1.0
    max_iters: int = 10_000
    max_time_s: float = 60.0

    def __post_init__(self) -> None:
        if self.warmup_iters < 0 or self.min_iters < 1 or self.max_iters < self.min_iters:
            raise BenchError(
                f"bad timing iterations: warmup {self.warmup_iters}, min {self.min_iters}, max {self.max_iters}",
                "use warmup >= 0 and 1 <= min <= max iterations",
            )
        for name in ("warmup_s", "min_time_s", "max_time_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise BenchError(
                    f"timing {name} must be a finite number of seconds >= 0, got {value}",
                    "pass e.g. --min-time 1.0",
                )


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency figures (milliseconds) and how they were obtained."""

    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    std_ms: float
    iterations: int
    warmup_iters: int
    total_s: float  # wall time of the timed loop (warm-up excluded)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values, q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(samples_ms: list[float], *, warmup_iters: int, total_s: float) -> LatencyStats:
    """Mean, percentiles and sample standard deviation (0 for a single sample)."""
    ordered = sorted(samples_ms)
    return LatencyStats(
        mean_ms=statistics.fmean(ordered),
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        std_ms=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        iterations=len(ordered),
        warmup_iters=warmup_iters,
        total_s=total_s,
    )


def _cpu_timer(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _cuda_timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def timed(fn: Callable[[], object]) -> float:
        with torch.cuda.device(device):
            start.record()
            fn()
            end.record()
            end.synchronize()
        return start.elapsed_time(end)

    return timed


def measure_latency(
    fn: Callable[[], object],
    *,
    device: torch.device | str = "cpu",
    config: TimingConfig = TimingConfig(),
    after_iteration: Callable[[], None] | None = None,
) -> LatencyStats:
    """Warm ``fn`` up, then time its calls; ``after_iteration`` runs untimed after each call.

    ``after_iteration`` lets a caller sample something (such as memory) during the loop
    without adding to the measured time.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        timed = _cuda_timer(device)
    else:
        timed = _cpu_timer
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        warmup, _ = _run_until(timed, fn, after_iteration, config.warmup_iters, config.warmup_s, config)
        samples, total_s = _run_until(timed, fn, after_iteration, config.min_iters, config.min_time_s, config)
    finally:
        if gc_was_enabled:
            gc.enable()
    return summarize(samples, warmup_iters=len(warmup), total_s=total_s)


def _run_until(
    timed: Callable[[Callable[[], object]], float],
    fn: Callable[[], object],
    after_iteration: Callable[[], None] | None,
    min_iters: int,
    min_time_s: float,
    config: TimingConfig,
) -> tuple[list[float], float]:
    """Call until ``min_iters`` AND ``min_time_s`` are reached, or (after one call) a maximum is."""
    samples: list[float] = []
    started = time.perf_counter()
    elapsed = 0.0
    while True:
        enough = len(samples) >= min_iters and elapsed >= min_time_s
        capped = bool(samples) and (len(samples) >= config.max_iters or elapsed >= config.max_time_s)
        if enough or capped:
            return samples, elapsed
        samples.append(timed(fn))
        if after_iteration is not None:
            after_iteration()
        elapsed = time.perf_counter() - started
