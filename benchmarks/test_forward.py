"""Forward-pass benchmarks: chosen zoo models at 32x32, batch 1 and 32.

Each case is timed with ``benchmark.pedantic`` (explicit warm-up rounds, rounds and
iterations per round, so every run does the same work) in inference mode; on CUDA each
call synchronizes so the time is the GPU's. Params and MACs go into ``extra_info`` so a
saved run says what was timed. Commands: see ``benchmarks/conftest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

ROUNDS = 20
WARMUP_ROUNDS = 3


@dataclass(frozen=True)
class Case:
    model: str
    variant: str
    in_chans: int
    batch_size: int
    input_size: int = 32

    @property
    def iterations(self) -> int:
        """Calls per round: batch 1 is fast enough that one call is near the timer's noise."""
        return 10 if self.batch_size == 1 else 1

    def __str__(self) -> str:
        return f"{self.model}-{self.variant}-bs{self.batch_size}"


CASES = [
    Case(model, variant, in_chans, batch_size)
    for model, variant, in_chans in (
        ("lenet5", "baseline", 1),
        ("resnet20", "baseline", 3),
        ("resnet18", "baseline", 3),
    )
    for batch_size in (1, 32)
]


def build(case: Case) -> nn.Module:
    """The case's model from the zoo, in eval mode (10 classes)."""
    from bench.zoo import create_model

    model = create_model(case.model, num_classes=10, in_chans=case.in_chans, input_size=case.input_size)
    return model.eval()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward(benchmark, bench_device: torch.device, case: Case) -> None:
    from bench.profiling.profiler import model_complexity

    model = build(case)
    input_shape = (case.in_chans, case.input_size, case.input_size)
    complexity = model_complexity(model, input_shape)
    model.to(bench_device)
    inputs = torch.randn(case.batch_size, *input_shape, device=bench_device)

    benchmark.group = f"{case.input_size}x{case.input_size} batch {case.batch_size}"
    benchmark.extra_info.update(
        model=case.model,
        variant=case.variant,
        input_size="x".join(map(str, input_shape)),
        batch_size=case.batch_size,
        device=str(bench_device),
        params=complexity["params"],
        macs=complexity["macs"],
        size_mb=complexity["size_mb"],
    )

    def forward() -> None:
        model(inputs)
        if bench_device.type == "cuda":
            torch.cuda.synchronize(bench_device)

    with torch.inference_mode():
        benchmark.pedantic(forward, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=case.iterations)
