from __future__ import annotations

import psutil
import pytest
import torch

from bench.profiling.memory import PeakMemory


def test_cpu_peak_is_the_largest_rss_sample() -> None:
    memory = PeakMemory("cpu")
    memory.start()
    baseline = psutil.Process().memory_info().rss / 2**20
    # 96 MiB, written: above glibc's largest mmap threshold (32 MiB), so it is fresh memory
    block = torch.ones(96 * 2**20 // 4)
    memory.sample()
    del block
    assert memory.peak_mb() >= baseline + 90


def test_start_forgets_earlier_peaks() -> None:
    memory = PeakMemory("cpu")
    memory.start()
    block = torch.ones(96 * 2**20 // 4)
    memory.sample()
    high = memory.peak_mb()
    del block
    memory.start()
    assert memory.peak_mb() < high - 64  # such blocks are mmapped: freeing returns them


@pytest.mark.gpu
def test_cuda_peak_uses_the_allocator() -> None:
    memory = PeakMemory("cuda")
    memory.start()
    block = torch.empty(64 * 2**20 // 4, device="cuda")
    del block
    assert memory.peak_mb() >= 64
    memory.start()
    assert memory.peak_mb() < 64
