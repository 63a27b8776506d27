"""How a run reports progress without printing: the CLI passes an observer, library code calls it."""

from __future__ import annotations

import os
import socket
from typing import Protocol

from bench.provider.observer import ProgressObserver, SilentProgress


def worker_name() -> str:
    """``host:pid`` of this process: how progress displays and results name a worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RunObserver(ProgressObserver, Protocol):
    """Progress events of `bench run`: its plan and cells, and (from the provider) each cell's
    phases and training; every method may be a no-op."""

    def on_plan(self, total: int, todo: int) -> None:
        """``total`` cells in the run, ``todo`` of them still to do (the rest resumed)."""

    def on_cell_start(self, model: str, variant: str) -> None: ...

    def on_cell_end(
        self, model: str, variant: str, status: str, seconds: float, error: str | None, worker: str = ""
    ) -> None:
        """The cell was committed; ``worker`` (host:pid) ran it."""


class SilentObserver(SilentProgress):
    """Reports nothing: for library callers and tests."""

    def on_plan(self, total: int, todo: int) -> None:
        pass

    def on_cell_start(self, model: str, variant: str) -> None:
        pass

    def on_cell_end(
        self, model: str, variant: str, status: str, seconds: float, error: str | None, worker: str = ""
    ) -> None:
        pass
