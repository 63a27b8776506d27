"""Where a run's models are worked on: in this process, or spread over a Ray cluster.

An executor takes the plan as :class:`ModelWork` (a model and its cells still to do) and
hands every :class:`~bench.runner.cells.CellResult` to ``commit`` in the driver, as each
cell finishes. The driver alone writes the store, so ``--resume``, failure isolation, the
exports and the report do not depend on the executor. Executors are strategy objects chosen
by name (``--executor local|ray``), not branches inside the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.errors import BenchError, suggest
from bench.runner.cells import CellResult, run_model_cells
from bench.runner.config import Cell, RunConfig
from bench.runner.observer import RunObserver

Commit = Callable[[CellResult], None]


@dataclass(frozen=True)
class ModelWork:
    """One model's cells still to do: one task of an executor."""

    model: str
    cells: tuple[Cell, ...]


def group_by_model(cells: list[Cell]) -> list[ModelWork]:
    """The plan's cells as one :class:`ModelWork` per model, in the plan's order."""
    grouped: dict[str, list[Cell]] = {}
    for cell in cells:
        grouped.setdefault(cell.model, []).append(cell)
    return [ModelWork(model, tuple(model_cells)) for model, model_cells in grouped.items()]


class Executor(Protocol):
    """Runs every piece of work, giving each finished cell to ``commit`` in this process.

    Used as a context manager: entering connects to (or starts) whatever runs the work, so
    an unreachable cluster is a one-line error before any data is loaded or model trained.
    """

    hosts: dict[str, dict[str, Any]]  # machines other than this one that ran work: host -> environment

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(
        self,
        work: list[ModelWork],
        config: RunConfig,
        observer: RunObserver,
        commit: Commit,
        splits_cache: dict[int, Any],
    ) -> None: ...


class LocalExecutor:
    """Model after model in this process: today's `bench run`, and the default."""

    name = "local"

    def __init__(self) -> None:
        self.hosts: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(
        self,
        work: list[ModelWork],
        config: RunConfig,
        observer: RunObserver,
        commit: Commit,
        splits_cache: dict[int, Any],
    ) -> None:
        for piece in work:
            for result in run_model_cells(piece.model, piece.cells, config, observer, splits_cache):
                commit(result)


EXECUTORS = ("local", "ray")


def parse_executor(name: str) -> str:
    """The ``--executor`` value, checked."""
    if name not in EXECUTORS:
        raise BenchError(
            f"unknown executor {name!r}{suggest(name, EXECUTORS)}",
            "pass --executor local (this process) or --executor ray (a Ray cluster)",
        )
    return name
