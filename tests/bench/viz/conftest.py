"""Viz tests run LeNet-sized models: one intra-op thread is fastest for them (and on a shared CPU)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.profiling.profiler import thread_count


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with thread_count(1):
        yield
