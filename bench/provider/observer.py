"""How getting a model reports progress without printing: the phases it goes through, timed.

The CLI passes an observer; the provider announces each phase (train, prune, finetune,
quantize, evaluate), asks it for a training progress callback, and hands it the notices the
user must read (:meth:`ProgressObserver.on_notice`). `bench run` extends the
protocol with its cells (:class:`bench.runner.observer.RunObserver`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bench.training.trainer import TrainCallback


class ProgressObserver(Protocol):
    """Progress events of getting a model; every method may be a no-op."""

    def on_phase(self, phase: str) -> None:
        """Work entered ``phase`` (train, prune, finetune, quantize, evaluate; `bench run` adds profile)."""

    def train_callback(self) -> TrainCallback | None:
        """A training progress callback for the train and fine-tune phases, or None."""

    def on_notice(self, message: str) -> None:
        """A one-line fact the user must see: what was inferred from an image folder, a damaged
        cached model that is being trained again."""


class SilentProgress:
    """Reports nothing: for library callers and tests."""

    def on_phase(self, phase: str) -> None:
        pass

    def train_callback(self) -> TrainCallback | None:
        return None

    def on_notice(self, message: str) -> None:
        pass


class PhaseClock:
    """Seconds per phase of one piece of work (a run's cell); announces each phase to the observer."""

    def __init__(self, observer: ProgressObserver) -> None:
        self.observer = observer
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.observer.on_phase(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
