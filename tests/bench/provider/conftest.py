"""Provider tests train LeNet-5 on a slice of digits, one epoch, on one thread (fastest for it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from torch.utils.data import Subset

from bench.data import DataSplits, load_splits
from bench.profiling.profiler import thread_count


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with thread_count(1):
        yield


@pytest.fixture(scope="module")
def small_digits() -> DataSplits:
    """Digits at 32x32 with a fifth of the training images: one epoch takes a moment."""
    splits = load_splits("digits")
    return replace(splits, train=Subset(splits.train, range(320)), val=Subset(splits.val, range(90)))
