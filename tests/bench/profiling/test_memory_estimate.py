"""bench.profiling.memory_estimate: shapes traced on the meta device, refused before allocation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from bench.profiling import memory_estimate, profiler
from bench.profiling.memory_estimate import (
    GIB,
    MemoryFootprint,
    check_model_fits,
    footprint,
    is_out_of_memory,
    model_footprint,
    out_of_memory_error,
)
from bench.profiling.profiler import ProfileOptions, profile_model
from bench.profiling.timing import TimingConfig

CPU_OOM = (
    "[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)"
)


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(128, 5))


def test_the_trace_counts_layer_inputs_and_outputs_but_not_in_place_results_or_views() -> None:
    needs = footprint(_tiny(), (3, 4, 4))
    weights = (8 * 3 * 9 + 8 + 128 * 5 + 5) * 4
    image, conv_out, logits = 3 * 16 * 4, 8 * 16 * 4, 5 * 4
    # peak: the convolution reads the image and writes its maps; ReLU is in place, Flatten a view
    assert needs == MemoryFootprint(weights, image, image + conv_out, conv_out + logits)
    assert needs.inference(10) == weights + 10 * (image + image + conv_out)
    assert needs.inference(10, activation_bytes=2) == weights + 10 * (image + (image + conv_out) // 2)
    assert needs.training(10) == 3 * weights + 10 * (image + conv_out + logits)


def test_an_absurd_shape_is_traced_without_memory() -> None:
    shape, needs = model_footprint("lenet5", in_chans=1, input_size=100_000, num_classes=10)
    assert shape == (1, 100_000, 100_000)
    assert needs is not None and needs.input == 4 * 10**10 and needs.inference(1) > 500 * GIB


def test_a_model_without_meta_kernels_gets_no_estimate() -> None:
    class Numpy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(x.numpy())

    assert footprint(Numpy(), (1, 2, 2)) is None


def test_a_shape_that_does_not_fit_is_refused_with_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_estimate, "free_memory", lambda device: 2 * GIB)
    args = {"in_chans": 1, "input_size": 32, "num_classes": 10, "device": torch.device("cpu"), "fix": "smaller"}
    check_model_fits("lenet5", **args, infer_batch=1000, train_batch=64)
    with pytest.raises(BenchError) as info:
        check_model_fits("lenet5", **args, infer_batch=10_000_000)
    assert str(info.value) == (
        "lenet5 at 1x32x32, batch 10000000, needs ~388.6 GiB, this machine has 2.00 GiB free; smaller"
    )
    with pytest.raises(BenchError, match=r"^training lenet5 at 1x32x32, batch 1000000, needs ~"):
        check_model_fits("lenet5", **args, train_batch=1_000_000)


def test_allocator_failures_are_recognised_and_become_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_estimate, "free_memory", lambda device: 3 * GIB)
    assert is_out_of_memory(RuntimeError(CPU_OOM)) and is_out_of_memory(MemoryError())
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB."))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError(CPU_OOM))
    assert str(out_of_memory_error(RuntimeError(CPU_OOM), "pass less")) == (
        "out of memory: an allocation of ~37.3 GiB failed, this machine has 3.00 GiB free; pass less"
    )


def test_a_cpu_allocation_failure_in_a_timed_batch_is_a_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like CUDA's out-of-memory: the batch's row fails, the other batch sizes are measured."""
    real = profiler._measure_batch

    def measure(model, input_shape, batch_size, options, executor=None):
        if batch_size > 1:
            raise RuntimeError(CPU_OOM)
        return real(model, input_shape, batch_size, options, executor)

    monkeypatch.setattr(profiler, "_measure_batch", measure)
    timing = TimingConfig(warmup_iters=1, warmup_s=0, min_iters=2, min_time_s=0)
    options = ProfileOptions(device=torch.device("cpu"), batch_sizes=[1, 8], timing=timing)
    rows = profile_model(_tiny(), input_shape=(3, 4, 4), options=options)
    assert [(r["batch_size"], r["status"]) for r in rows] == [(1, "ok"), (8, "failed")]
    assert rows[1]["error"] == "out of memory at batch 8"
