"""Speedups measured side by side: a baseline and its variants timed in alternating rounds.

A speedup is the ratio of two latencies; timed one after the other, it also holds whatever the
machine did in between (another job, a clock change), and on a shared machine the ratio moves
by tens of percent from run to run. Here the models whose ratio is reported are timed in
rounds, A B C A B C ... (:func:`bench.profiling.timing.measure_interleaved`), each round
giving every model an equal block of iterations; each round's ratio of medians shares that
round's machine state. The reported speedup is the median over the rounds, with the lowest
and highest round beside it: a wide range says the ratio itself is not settled.

Only models that run the same way as the reference join it: on the CPU in fp32 every variant,
int8 included (same inputs, inference mode); otherwise the float variants only (int8 runs on
the CPU while the baseline may not). Compiled models are not interleaved (every batch size
compiles anew; their rows' speedups stay sequential).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.devices import device_label
from bench.profiling.complexity import eval_mode, is_quantized_model
from bench.profiling.profiler import ProfileOptions, backend_flags, thread_count
from bench.profiling.profiler import _forward_context as forward_context  # the rows' own context
from bench.profiling.profiler import _place as place
from bench.profiling.timing import measure_interleaved

DEFAULT_ROUNDS = 5


@dataclass(frozen=True)
class Speedup:
    """A variant's speedup over the reference at one batch size, from interleaved rounds."""

    model: str
    variant: str
    reference: str
    device: str
    batch_size: int
    speedup: float  # median over rounds of reference median / variant median
    low: float  # the slowest round's ratio
    high: float  # the fastest round's ratio
    rounds: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def joins_reference(model: nn.Module, options: ProfileOptions) -> bool:
    """Whether ``model`` runs under the reference's options (module docstring)."""
    if options.compile:
        return False
    if is_quantized_model(model):
        return options.device.type == "cpu" and options.precision == "fp32"
    return True


def interleaved_speedups(
    model_name: str,
    models: Sequence[tuple[str, nn.Module]],
    *,
    input_shape: tuple[int, int, int],
    options: ProfileOptions,
    rounds: int = DEFAULT_ROUNDS,
) -> list[Speedup]:
    """Speedups of ``models[1:]`` over ``models[0]`` (the reference), per batch size of ``options``."""
    if not models or not joins_reference(models[0][1], options):
        return []
    joined = [(name, model) for name, model in models if joins_reference(model, options)]
    if len(joined) < 2:
        return []
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    found: list[Speedup] = []
    with contextlib.ExitStack() as stack:
        for _, model in joined:
            stack.enter_context(eval_mode(model))
            place(model, options)
        stack.enter_context(backend_flags(options))
        stack.enter_context(thread_count(options.threads))
        for batch_size in options.batch_sizes:
            inputs = torch.randn(batch_size, *input_shape, device=options.device).contiguous(
                memory_format=memory_format
            )
            with forward_context(options):
                calls = [lambda model=model, inputs=inputs: model(inputs) for _, model in joined]
                result = measure_interleaved(calls, rounds=rounds, device=options.device, config=options.timing)
            for index, (name, _) in enumerate(joined[1:], start=1):
                median, low, high = result.speedup(index)
                found.append(
                    Speedup(
                        model_name,
                        name,
                        joined[0][0],
                        device_label(options.device),
                        batch_size,
                        median,
                        low,
                        high,
                        rounds,
                    )  # fmt: skip
                )
    return found
