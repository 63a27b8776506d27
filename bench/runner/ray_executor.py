"""`bench run --executor ray`: one Ray task per model, rows streamed back to the driver.

Each model (its baseline and every variant) is one Ray task asking for the resources its
timing needs: a whole GPU on CUDA, so no two timed cells ever share a GPU; on the CPU a
whole node's cores (or ``--threads N`` cores), so CPU timings never overlap on one node.
Timings that share hardware measure each other: two torch processes with two threads each
on two cores slow each other several-fold and fill the latency tails.

A task sends each finished cell through a :class:`ray.util.queue.Queue` the moment it is
done; the driver commits it into ``results.db`` like the local executor does, so a task
that dies (node lost, OOM-killed, cancelled) loses only its unfinished cells. Those become
``failed`` rows naming the cause, the other models go on, and ``--resume`` runs only what
is missing.

Checkpoints and data: the workers use the run's ``--cache-dir`` and ``--data-dir`` as they
are, so on a cluster of several machines both must be on storage every node mounts at the
same path (NFS, a shared volume); on one machine (the first use: one multi-GPU box) that
holds by itself. The bundled ``digits`` data set needs no storage at all.

Without ``--ray-address`` a local Ray instance is started on this machine, bound to the
loopback interface, and shut down at the end; ``auto`` or ``HOST:PORT`` joins a running
cluster (``ray start --head`` ...), which is left running.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from bench.errors import BenchError
from bench.runner.cells import CellResult, lost_cells, run_model_cells
from bench.runner.config import RunConfig
from bench.runner.executors import Commit, ModelWork
from bench.runner.observer import RunObserver, worker_name

POLL_SECONDS = 0.2  # how often the driver looks at the queue and the tasks


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BenchError(
            "--executor ray needs Ray, which is not installed", 'install it with pip install -e ".[ray]"'
        ) from None
    return ray


class _QueueObserver:
    """A worker's observer: forwards cell starts, phases and notices to the driver through the queue."""

    def __init__(self, queue: Any, worker: str) -> None:
        self._queue = queue
        self._worker = worker

    def on_plan(self, total: int, todo: int) -> None:
        pass

    def on_cell_start(self, model: str, variant: str) -> None:
        self._queue.put(("start", self._worker, model, variant))

    def on_phase(self, phase: str) -> None:
        self._queue.put(("phase", self._worker, phase))

    def on_cell_end(
        self, model: str, variant: str, status: str, seconds: float, error: str | None, worker: str = ""
    ) -> None:
        pass

    def train_callback(self) -> None:
        return None

    def on_notice(self, message: str) -> None:
        self._queue.put(("notice", self._worker, message))


def _model_task(piece: ModelWork, config: RunConfig, queue: Any, threads: int | None) -> str:
    """The body of one Ray task: run ``piece``'s cells, sending each result to the driver."""
    import torch

    from bench.profiling.environment import collect_environment

    if threads is not None:
        torch.set_num_threads(threads)
    worker = worker_name()
    environment = collect_environment(None)
    queue.put(("host", worker, socket.gethostname(), environment))
    for result in run_model_cells(piece.model, piece.cells, config, _QueueObserver(queue, worker)):
        queue.put(("cell", worker, result))
    return piece.model


class RayExecutor:
    """Spreads a run's models over a Ray cluster; see the module docstring."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self._ray: Any = None
        self._started_here = False
        self._tasks: dict[Any, ModelWork] = {}
        self.hosts: dict[str, dict[str, Any]] = {}  # host name -> its environment
        self.workers: dict[str, int] = {}  # worker (host:pid) -> cells it finished

    # -- the cluster ------------------------------------------------------------------

    def __enter__(self) -> RayExecutor:
        ray = self._ray = _import_ray()
        if ray.is_initialized():
            return self
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            if self.address is None:
                # A private instance on this machine: keep every connection on loopback.
                os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise BenchError(
                f"cannot start or reach the Ray cluster at {where} ({' '.join(str(exc).split())[:200]})",
                "start it with `ray start --head` and pass --ray-address auto or HOST:PORT, or drop --ray-address",
            ) from None
        self._started_here = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started_here and self._ray is not None:
            self._ray.shutdown()

    def task_resources(self, config: RunConfig) -> dict[str, float]:
        """What one model's task asks for: a whole GPU, or a whole node's (or --threads) cores."""
        if config.device.type == "cuda":
            gpus = self._ray.cluster_resources().get("GPU", 0)
            if gpus < 1:
                raise BenchError(
                    "--device cuda with --executor ray, but the Ray cluster has no GPU",
                    "start the Ray nodes on GPU machines, or pass --device cpu",
                )
            return {"num_gpus": 1, "num_cpus": 1}
        node_cpus = [node["Resources"].get("CPU", 0) for node in self._ray.nodes() if node.get("Alive")]
        largest = int(max(node_cpus, default=0))
        if largest < 1:
            raise BenchError(
                "the Ray cluster has no CPU to run on", "start Ray nodes with CPUs (ray start --num-cpus N)"
            )
        wanted = config.threads or int(min(cpus for cpus in node_cpus if cpus >= 1))
        if wanted > largest:
            raise BenchError(
                f"--threads {wanted} asks for more cores than any Ray node has ({largest})",
                f"pass --threads {largest} or fewer",
            )
        return {"num_cpus": wanted}

    # -- the work ---------------------------------------------------------------------

    def run(
        self,
        work: list[ModelWork],
        config: RunConfig,
        observer: RunObserver,
        commit: Commit,
        splits_cache: dict[int, Any],
    ) -> None:
        ray = self._ray
        from ray.util.queue import Empty, Queue

        resources = self.task_resources(config)
        threads = None if config.device.type == "cuda" else int(resources["num_cpus"])
        queue = Queue(actor_options={"num_cpus": 0})
        remote = ray.remote(max_retries=0, **resources)(_model_task)
        self._tasks = {remote.remote(piece, config, queue, threads): piece for piece in work}
        done: set[str] = set()
        try:
            while self._tasks:
                self._drain(queue, Empty, observer, commit, done, wait=POLL_SECONDS)
                finished, _ = ray.wait(list(self._tasks), num_returns=len(self._tasks), timeout=0)
                for ref in finished:
                    piece = self._tasks.pop(ref)
                    self._drain(queue, Empty, observer, commit, done, wait=0)  # what it sent before it ended
                    try:
                        ray.get(ref)
                    except Exception as exc:
                        cause = " ".join(str(exc).split())[:300] or type(exc).__name__
                        missing = [cell for cell in piece.cells if cell.cell_id not in done]
                        for result in lost_cells(
                            piece.model, missing, config, observer, f"{type(exc).__name__}: {cause}"
                        ):
                            observer.on_cell_start(result.cell.model, result.cell.variant.name)
                            commit(result)
                            done.add(result.cell_id)
        except BaseException:
            self.cancel_all()
            raise
        finally:
            queue.shutdown()

    def _drain(
        self, queue: Any, empty: type[Exception], observer: RunObserver, commit: Commit, done: set[str], wait: float
    ) -> None:
        """Handle every message in the queue, waiting up to ``wait`` seconds for the first."""
        deadline = time.monotonic() + wait
        while True:
            try:
                message = queue.get(timeout=max(0.0, deadline - time.monotonic())) if wait else queue.get_nowait()
            except empty:
                return
            kind, worker = message[0], message[1]
            if kind == "host":
                self.hosts.setdefault(message[2], message[3])
            elif kind == "start":
                observer.on_cell_start(message[2], message[3])
            elif kind == "phase":
                observer.on_phase(message[2])
            elif kind == "notice":
                observer.on_notice(message[2])
            elif kind == "cell":
                result: CellResult = message[2]
                commit(result)
                done.add(result.cell_id)
                self.workers[worker] = self.workers.get(worker, 0) + 1
            wait = 0  # after the first message, take what is there without waiting

    def cancel(self, model: str) -> bool:
        """Kill the task running ``model`` (its worker process too); False when none runs."""
        for ref, piece in self._tasks.items():
            if piece.model == model:
                self._ray.cancel(ref, force=True)
                return True
        return False

    def cancel_all(self) -> None:
        for ref in list(self._tasks):
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
