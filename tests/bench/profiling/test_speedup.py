"""Interleaved speedups: the variants timed in rounds with their reference."""

from __future__ import annotations

import time

import torch
from torch import nn

from bench.profiling.profiler import ProfileOptions
from bench.profiling.speedup import interleaved_speedups
from bench.profiling.timing import TimingConfig

FAST = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=6, min_time_s=0.0)


class Sleepy(nn.Module):
    def __init__(self, sleep_s: float) -> None:
        super().__init__()
        self.sleep_s = sleep_s
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.sleep_s)
        return x * self.scale


def test_a_faster_variant_has_its_speedup_and_the_rounds_range() -> None:
    options = ProfileOptions(batch_sizes=[1, 2], timing=FAST)
    models = [("baseline", Sleepy(0.004)), ("fast", Sleepy(0.001))]
    found = interleaved_speedups("toy", models, input_shape=(1, 4, 4), options=options, rounds=3)
    assert [(s.variant, s.reference, s.batch_size) for s in found] == [("fast", "baseline", 1), ("fast", "baseline", 2)]
    for item in found:
        assert item.low <= item.speedup <= item.high and item.speedup > 1.5 and item.rounds == 3


def test_compiled_models_are_not_interleaved() -> None:
    options = ProfileOptions(batch_sizes=[1], timing=FAST, compile=True)
    models = [("baseline", Sleepy(0.0)), ("fast", Sleepy(0.0))]
    assert interleaved_speedups("toy", models, input_shape=(1, 4, 4), options=options) == []
