"""`bench run`: models -> trained, compressed, evaluated and timed variants -> a report.

Cells are done model by model. Each finished cell is committed to ``results.db`` in one
transaction (rows, artifacts, the done mark) and the JSON/CSV exports are rewritten, so a
run killed at any moment loses at most the cell in progress. A cell that raises becomes
rows with ``status=failed`` and the run goes on; cells that depend on a failed baseline are
``skipped`` with the reason. ``--resume`` skips cells already done (failed ones are retried).

One process at a time writes a run directory: the run holds its OS lock
(:mod:`bench.results.lock`) from before the "already holds a run" check to the end, so a
second `bench run` or ``--resume`` on it is refused at once with the holder's pid. Everything
that can be checked without training (the directory, a resumed run's settings, whether the
shapes fit in memory, the data) is checked before the first cell.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.profiling.environment import collect_environment
from bench.profiling.profiler import ProfileOptions, backend_flags, thread_count
from bench.results.lock import LOCK_FILE, run_dir_lock
from bench.results.schema import Status
from bench.results.store import RESULTS_DB, ResultStore
from bench.runner.cells import CellResult
from bench.runner.config import RunConfig, check_resumable
from bench.runner.executors import Commit, Executor, LocalExecutor, group_by_model
from bench.runner.observer import RunObserver, SilentObserver
from bench.runner.ray_executor import RayExecutor

# Writes the report of a run directory and returns its path: the orchestrating layer (the
# CLI) passes `reports.markdown.write_report`, the runner itself never imports the reports.
ReportWriter = Callable[[Path], Path]

# What the run's environment keeps of each host that measured rows.
HOST_FIELDS = ("cpu_model", "cpu_threads", "gpu_name", "torch", "cuda", "python")


@dataclass
class RunSummary:
    """What the run did; the CLI turns it into messages and the exit code."""

    out_dir: Path
    report: Path | None
    cells_total: int
    cells_run: int
    cells_resumed: int
    failed: list[str] = field(default_factory=list)  # cell ids with failed rows
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def execute_run(
    config: RunConfig,
    observer: RunObserver | None = None,
    argv: list[str] | None = None,
    write_report: ReportWriter | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Run every cell of ``config`` into ``config.out_dir``; see the module docstring.

    ``write_report`` is called once the store is exported, also when the run stops early
    (Ctrl-C, an unexpected error), so a report always matches what the store holds.
    ``executor`` defaults to the one ``config.executor`` names.
    """
    observer = observer or SilentObserver()
    start = time.perf_counter()
    fix = "wait for it to finish, or pass another --out directory"
    with run_dir_lock(config.out_dir, holder="bench run", fix=fix):
        _check_out_dir(config)
        _check_memory(config)
        with executor or make_executor(config) as executor:  # a cluster that cannot be reached fails before any work
            splits_cache = _check_inputs(config, observer)
            summary = _execute(config, observer, argv, write_report, splits_cache, executor)
    summary.seconds = time.perf_counter() - start
    return summary


def _execute(
    config: RunConfig,
    observer: RunObserver,
    argv: list[str] | None,
    write_report: ReportWriter | None,
    splits_cache: dict[int, Any],
    executor: Executor,
) -> RunSummary:
    summary = RunSummary(config.out_dir, None, len(config.cells()), 0, 0)
    with ResultStore(config.out_dir) as store, thread_count(config.threads):
        _record_run(store, config, argv)
        done = _finished_cells(store)
        todo = [cell for cell in config.cells() if cell.cell_id not in done]
        summary.cells_resumed = summary.cells_total - len(todo)
        observer.on_plan(summary.cells_total, len(todo))
        try:
            executor.run(
                group_by_model(todo), config, observer, _commit_results(store, observer, summary), splits_cache
            )
        finally:
            _record_hosts(store, executor.hosts)
            store.export()
            if write_report is not None:
                summary.report = write_report(config.out_dir)
    return summary


def _commit_results(store: ResultStore, observer: RunObserver, summary: RunSummary) -> Commit:
    """The driver's one way to take a finished cell: commit it, export, count it, announce it."""

    def commit(result: CellResult) -> None:
        store.commit_cell(result.cell_id, result.rows, result.artifacts)
        store.export()
        summary.cells_run += 1
        if result.status != Status.OK:
            summary.failed.append(result.cell_id)
        cell = result.cell
        observer.on_cell_end(
            cell.model, cell.variant.name, result.status, result.seconds, result.error, worker=result.worker
        )

    return commit


def _check_out_dir(config: RunConfig) -> None:
    """Never mix two runs in one directory by accident; never lose results already written.
    Called under the run directory's lock, so no other run can start between check and use."""
    db = config.out_dir / RESULTS_DB
    if config.resume:
        if not db.exists():
            raise BenchError(
                f"--resume needs an existing run, but {config.out_dir} has no {RESULTS_DB}",
                "pass the --out directory of the run to continue, or drop --resume",
            )
        with ResultStore(config.out_dir, create=False) as store:  # a changed plan fails before any work
            check_resumable(store.run_info().get("config", {}), config)
        return
    if db.exists():
        raise BenchError(
            f"{config.out_dir} already holds a run ({RESULTS_DB})",
            "pass --resume to continue it, or choose a new --out directory",
        )
    if any(path.name != LOCK_FILE for path in config.out_dir.iterdir()):
        raise BenchError(
            f"{config.out_dir} exists and is not empty",
            "choose a new --out directory (runs are never written over other files)",
        )


def _check_memory(config: RunConfig) -> None:
    """Refuse (exit 2) a model whose training step or largest timed batch cannot fit in memory."""
    from bench.data import get_dataset_spec
    from bench.profiling.memory_estimate import check_model_fits
    from bench.training import get_recipe
    from bench.training.requests import input_size_for
    from bench.zoo import get_model_spec

    data_spec = get_dataset_spec(config.dataset)
    fix = "pass a smaller --input-size or --batch-sizes"
    for name in config.models:
        spec = get_model_spec(name)
        fits = {"in_chans": data_spec.in_chans, "num_classes": data_spec.num_classes or 2, "fix": fix}
        fits["input_size"] = input_size_for(spec, data_spec, config.input_size)
        if data_spec.has_labels:
            batch = get_recipe(spec, config.preset, data_spec.name, epochs=config.epochs).batch_size
            check_model_fits(name, **fits, device=config.device, train_batch=batch)
        for device in {d for variant in config.variants() for d in config.devices_for(variant)}:
            check_model_fits(name, **fits, device=device, infer_batch=max(config.batch_sizes))


def _check_inputs(config: RunConfig, observer: RunObserver) -> dict[int, Any]:
    """Validate the models and load the data (at the first model's input size) before any work,
    so bad input fails fast (exit 2) with nothing written; what was inferred from the images is
    a notice. Returns the loaded splits by input size, for the sessions to reuse."""
    from bench.data import get_dataset_spec
    from bench.training.requests import splits_for_model
    from bench.zoo import get_model_spec

    specs = [get_model_spec(name) for name in config.models]
    splits = splits_for_model(specs[0], get_dataset_spec(config.dataset), config.data)
    if splits.inferred:
        observer.on_notice(splits.inferred)
    return {splits.input_shape[1]: splits}


def _record_run(store: ResultStore, config: RunConfig, argv: list[str] | None) -> None:
    stored = store.run_info()
    if stored:  # a resumed run, its settings checked by _check_out_dir
        resumed = list(stored.get("resumed", [])) + [datetime.now(timezone.utc).isoformat(timespec="seconds")]
        store.set_run_info({**stored, "resumed": resumed})
        return
    options = ProfileOptions(device=config.device, threads=config.threads)
    with backend_flags(options):  # record the backend flags the measurements run with
        info = collect_environment(argv)
    info["config"] = config.to_dict()
    store.set_run_info(info)


def _record_hosts(store: ResultStore, hosts: dict[str, dict[str, Any]]) -> None:
    """List every machine that measured rows in the run's environment (``hosts``)."""
    info = store.run_info()
    known = dict(info.get("hosts") or {})
    local = socket.gethostname()
    if local not in known:
        known[local] = {key: info.get(key) for key in HOST_FIELDS}
    for host, environment in hosts.items():
        known.setdefault(host, {key: environment.get(key) for key in HOST_FIELDS})
    store.set_run_info({**info, "hosts": known})


def _finished_cells(store: ResultStore) -> set[str]:
    """Cells committed with every row ok or skipped; failed cells are tried again."""
    finished = set()
    for cell_id in store.done_cells():
        if all(row["status"] != Status.FAILED for row in store.rows_of_cell(cell_id)):
            finished.add(cell_id)
    return finished


def make_executor(config: RunConfig) -> Executor:
    """The executor ``config`` asks for (the Ray package is imported only when ``ray`` is)."""
    if config.executor == "ray":
        return RayExecutor(config.ray_address)
    return LocalExecutor()
