"""Training tests run LeNet-sized models: one intra-op thread is fastest for them.

Their convolutions are too small to gain from a second thread, and on a CPU shared with
other jobs two spinning threads make each step several times slower. Restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.profiling.profiler import thread_count


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with thread_count(1):
        yield
