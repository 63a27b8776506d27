"""Latency measurement: explicit warm-up, then enough timed iterations to trust the figures.

Warm-up runs until it has done ``warmup_iters`` iterations AND spent ``warmup_s`` seconds
(first calls pay for allocator growth, kernel selection, cudnn autotuning, lazy
initialisation). The timed loop then runs until it has done ``min_iters`` iterations AND
spent ``min_time_s`` seconds, stopping early only at ``max_iters`` or ``max_time_s`` (so one
slow model cannot stall a sweep). Each call of :func:`measure_latency` warms up afresh, so
every input shape gets its own warm-up.

Blocks: the timed loop is split into ``blocks`` consecutive blocks (at most ``min_iters``),
each with an equal share of the iterations and of the time. Every sample is kept
(:attr:`LatencyStats.samples_ms`, in measurement order). When the medians of the blocks
differ by more than :data:`BLOCK_TOLERANCE` of the overall median (``(max - min) / median``
of the block medians), the machine changed under the measurement (another job started,
the clock throttled) and :attr:`LatencyStats.warnings` says so; the row's
``timing_warnings`` carries the text and ``bench compare`` and the report show such rows as
"unstable". The median of a block is insensitive to a few preempted calls, so a steadily
loaded machine is not flagged; a load that comes and goes is.

Ratios: :func:`measure_interleaved` times several callables in alternating rounds
(A B A B ...), so that a slow phase of the machine hits all of them alike, and reports the
per-round ratios of their medians to the first one's (:class:`InterleavedStats`).

On CUDA every iteration is bracketed by CUDA events and synchronized, so the figure is GPU
time, not launch time; on the CPU ``time.perf_counter`` brackets each call. The garbage
collector is paused during both loops, as ``timeit`` does.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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
    blocks: int = 5

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise BenchError(f"timing blocks must be >= 1, got {self.blocks}", "use e.g. 5 blocks")
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


BLOCK_TOLERANCE = 0.10  # block medians may spread by 10% of the overall median before a warning


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
    min_ms: float = math.nan
    p25_ms: float = math.nan
    p75_ms: float = math.nan
    samples_ms: tuple[float, ...] = ()  # every timed call, in measurement order
    block_medians_ms: tuple[float, ...] = ()
    warnings: str = ""  # empty when the blocks agree (see BLOCK_TOLERANCE)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values, q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(
    samples_ms: list[float], *, warmup_iters: int, total_s: float, blocks: Sequence[Sequence[float]] = ()
) -> LatencyStats:
    """Mean, percentiles and sample standard deviation (0 for a single sample); with
    ``blocks`` (the samples split as measured) also the block medians and their warning."""
    ordered = sorted(samples_ms)
    overall = percentile(ordered, 50)
    medians = tuple(percentile(sorted(block), 50) for block in blocks if block)
    return LatencyStats(
        mean_ms=statistics.fmean(ordered),
        p50_ms=overall,
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        std_ms=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        iterations=len(ordered),
        warmup_iters=warmup_iters,
        total_s=total_s,
        min_ms=ordered[0],
        p25_ms=percentile(ordered, 25),
        p75_ms=percentile(ordered, 75),
        samples_ms=tuple(samples_ms),
        block_medians_ms=medians,
        warnings=block_warning(medians, overall),
    )


def block_warning(block_medians: Sequence[float], overall_median: float) -> str:
    """The warning text when block medians spread past :data:`BLOCK_TOLERANCE`, else ''."""
    if len(block_medians) < 2 or overall_median <= 0:
        return ""
    spread = (max(block_medians) - min(block_medians)) / overall_median
    if spread <= BLOCK_TOLERANCE:
        return ""
    return (
        f"unstable: the medians of {len(block_medians)} timing blocks differ by {spread:.0%} of the median "
        f"({min(block_medians):.4g}..{max(block_medians):.4g} ms; tolerance {BLOCK_TOLERANCE:.0%})"
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
    timed = _timer(device)
    with _gc_paused():
        warmup, _ = _run_until(timed, fn, after_iteration, config.warmup_iters, config.warmup_s, config)
        blocks, total_s = _timed_blocks(timed, fn, after_iteration, config)
    samples = [value for block in blocks for value in block]
    return summarize(samples, warmup_iters=len(warmup), total_s=total_s, blocks=blocks)


class _gc_paused:
    """Collect once, then keep the garbage collector off inside the block (as timeit does)."""

    def __enter__(self) -> None:
        gc.collect()
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def _timer(device: torch.device | str) -> Callable[[Callable[[], object]], float]:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return _cuda_timer(device)
    return _cpu_timer


def _timed_blocks(
    timed: Callable[[Callable[[], object]], float],
    fn: Callable[[], object],
    after_iteration: Callable[[], None] | None,
    config: TimingConfig,
) -> tuple[list[list[float]], float]:
    """The timed loop as ``config.blocks`` blocks sharing its iterations, time and caps."""
    count = max(1, min(config.blocks, config.min_iters))
    per_block_iters = math.ceil(config.min_iters / count)
    per_block_s = config.min_time_s / count
    blocks: list[list[float]] = []
    started = time.perf_counter()
    done = 0
    for _ in range(count):
        remaining = replace(
            config,
            max_iters=max(config.max_iters - done, 1),
            max_time_s=max(config.max_time_s - (time.perf_counter() - started), 0.0),
            min_iters=min(per_block_iters, max(config.max_iters - done, 1)),
        )
        block, _ = _run_until(timed, fn, after_iteration, remaining.min_iters, per_block_s, remaining)
        blocks.append(block)
        done += len(block)
        if done >= config.max_iters or time.perf_counter() - started >= config.max_time_s:
            break
    return blocks, time.perf_counter() - started


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


@dataclass(frozen=True)
class InterleavedStats:
    """Callables timed in alternating rounds: each one's figures, and per-round speedups.

    ``speedups[i][r]`` is the first callable's median in round ``r`` over callable ``i``'s
    (above 1: ``i`` is faster); both medians come from the same stretch of time.
    """

    stats: tuple[LatencyStats, ...]
    speedups: tuple[tuple[float, ...], ...]

    def speedup(self, index: int) -> tuple[float, float, float]:
        """(median, lowest, highest) of callable ``index``'s per-round speedups."""
        ordered = sorted(self.speedups[index])
        return percentile(ordered, 50), ordered[0], ordered[-1]


def measure_interleaved(
    fns: Sequence[Callable[[], object]],
    *,
    rounds: int = 5,
    device: torch.device | str = "cpu",
    config: TimingConfig = TimingConfig(),
) -> InterleavedStats:
    """Warm every callable up once, then time them in ``rounds`` rounds of A B C A B C ...

    Each round gives each callable a block of ``min_iters / rounds`` iterations and
    ``min_time_s / rounds`` seconds; ``max_iters`` and ``max_time_s`` cap each callable's
    total. A ratio of two sequential timings mixes the models' difference with whatever the
    machine did in between; per-round ratios share the machine's state, and their spread
    shows how far the ratio can be trusted.
    """
    if not fns or rounds < 1:
        raise BenchError(f"interleaved timing needs callables and rounds >= 1, got {len(fns)}, {rounds}", "pass both")
    timed = _timer(device)
    per_round_iters = max(1, math.ceil(config.min_iters / rounds))
    per_round = replace(
        config, min_iters=per_round_iters, max_iters=max(per_round_iters, config.max_iters // rounds),
        min_time_s=config.min_time_s / rounds, max_time_s=config.max_time_s / rounds,
    )  # fmt: skip
    blocks: list[list[list[float]]] = [[] for _ in fns]
    warmups: list[int] = []
    with _gc_paused():
        for fn in fns:
            warmup, _ = _run_until(timed, fn, None, config.warmup_iters, config.warmup_s, config)
            warmups.append(len(warmup))
        started = time.perf_counter()
        for _ in range(rounds):
            for index, fn in enumerate(fns):
                block, _ = _run_until(timed, fn, None, per_round.min_iters, per_round.min_time_s, per_round)
                blocks[index].append(block)
        total_s = time.perf_counter() - started
    stats = tuple(
        summarize([v for block in own for v in block], warmup_iters=warm, total_s=total_s, blocks=own)
        for own, warm in zip(blocks, warmups)
    )
    reference = stats[0].block_medians_ms
    speedups = tuple(
        tuple(ref / own if own > 0 else math.inf for ref, own in zip(reference, s.block_medians_ms)) for s in stats
    )
    return InterleavedStats(stats=stats, speedups=speedups)
