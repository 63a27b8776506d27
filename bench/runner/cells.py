"""One model's cells, run one after another: the unit of work every executor hands out.

:func:`run_model_cells` walks one model's cells with one :class:`ModelSession` (so the
variants reuse the trained baseline) and yields a :class:`CellResult` per cell as soon as it
is done. It never touches the store: whoever runs it (the local executor in the driver's
process, or a Ray task on a worker) sends the results to the driver, which alone commits
them, so ``--resume``, failure isolation and the exports behave the same under every
executor. A cell that raises becomes rows with ``status=failed``; once the baseline has
failed, the model's other cells are ``skipped`` with the reason.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch

from bench.errors import BenchError
from bench.results.schema import Status
from bench.results.store import Artifact
from bench.runner.config import Cell, RunConfig
from bench.runner.observer import RunObserver, worker_name
from bench.runner.session import ModelSession
from bench.training.checkpoint import DamagedCheckpoint


@dataclass
class CellResult:
    """A finished cell: its rows and artifacts, how it ended and who ran it."""

    cell: Cell
    rows: list[dict[str, Any]]
    artifacts: list[Artifact] = field(default_factory=list)
    status: str = Status.OK
    error: str | None = None
    seconds: float = 0.0
    worker: str = ""  # host:pid of the process that ran it

    @property
    def cell_id(self) -> str:
        return self.cell.cell_id


def run_model_cells(
    model: str,
    cells: Iterable[Cell],
    config: RunConfig,
    observer: RunObserver,
    splits_cache: dict[int, Any] | None = None,
) -> Iterator[CellResult]:
    """Run ``cells`` (all of ``model``) in order, yielding each result when it is done."""
    session = ModelSession(model, config, observer, {} if splits_cache is None else splits_cache)
    worker = worker_name()
    host = socket.gethostname()
    for cell in cells:
        observer.on_cell_start(cell.model, cell.variant.name)
        began = time.perf_counter()
        status, error = Status.OK, None
        if session.baseline_error is not None:
            status, error = Status.SKIPPED, f"not run: the baseline failed ({one_line(session.baseline_error)})"
            rows, artifacts = session.failed_rows(cell.variant, error, status=Status.SKIPPED), []
        else:
            try:
                outcome = session.run_cell(cell.variant)
                rows, artifacts = outcome.rows, outcome.artifacts
                if any(row["status"] != Status.OK for row in rows):  # e.g. an out-of-memory batch size
                    status = Status.FAILED
                    error = next(row["error"] for row in rows if row["status"] != Status.OK)
            except (Exception, torch.cuda.OutOfMemoryError) as exc:
                if isinstance(exc, DamagedCheckpoint):  # only raised under --damaged-cache stop: stop the run
                    raise
                status, error = Status.FAILED, one_line(exc)
                rows, artifacts = session.failed_rows(cell.variant, error), []
                free_memory()
        seconds = time.perf_counter() - began
        stamp(rows, seconds, host)
        yield CellResult(cell, rows, artifacts, status, error, seconds, worker)


def lost_cells(
    model: str, cells: Iterable[Cell], config: RunConfig, observer: RunObserver, cause: str
) -> list[CellResult]:
    """Failed results for cells whose worker died before finishing them, naming the cause."""
    session = ModelSession(model, config, observer, {})
    error = f"the worker running {model} was lost: {cause}"
    results = []
    for cell in cells:
        rows = session.failed_rows(cell.variant, error)
        stamp(rows, 0.0, "")
        results.append(CellResult(cell, rows, [], Status.FAILED, error, 0.0, ""))
    return results


def stamp(rows: list[dict[str, Any]], seconds: float, host: str) -> None:
    """The fields every committed row gets: cell time, commit time, the host that ran it."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for row in rows:
        row.update(cell_seconds=round(seconds, 3), created=created)
        if host:
            row["host"] = host


def one_line(exc: BaseException) -> str:
    """An exception as one line for a row's ``error`` (type named unless it is a BenchError)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BenchError):
        return message
    return f"{type(exc).__name__}: {message}"[:500]


def free_memory() -> None:
    """Give back what a failed cell held (an out-of-memory cell above all)."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
