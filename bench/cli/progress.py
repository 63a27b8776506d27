"""Progress on stderr for every command that trains or runs cells: rich bars on a terminal, log lines in pipes.

- :class:`TrainProgress` (`bench train`, and the training phases of run and viz): one bar per
  model, a line per epoch; hands out :class:`bench.training.TrainCallback` s.
- :class:`LogObserver` / :class:`LiveObserver` (`bench run`): a line per finished cell, or a
  live display with the cells done, the current cell and phase, and the training bar.
- :class:`VizObserver` (`bench viz`): the training bar and a line per figure drawn.
- :class:`TuneProgress` (`bench tune`): trials done out of the grid and the running trial's epoch.

Library code never prints: it calls these through the observer and callback protocols.
"""

from __future__ import annotations

from typing import Any

from bench.cli.common import fmt_value, stderr
from bench.results.schema import Status
from bench.runner.observer import SilentObserver, worker_name


class TrainProgress:
    """A rich progress bar on stderr, one task per model; hands out model trackers."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(  # public: `bench run` adds its overall task to the same display
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def log(self, message: str) -> None:
        self.progress.console.print(message, highlight=False)

    def notice(self, message: str) -> None:
        """``message`` as one line, however long (no wrapping, no markup), above the bars."""
        print_notice(message)

    def tracker(self, name: str) -> _ModelTracker:
        return _ModelTracker(self.progress, name)


class _ModelTracker:
    """The :class:`bench.training.TrainCallback` of one model's progress-bar task."""

    def __init__(self, progress: Any, name: str) -> None:
        self._progress = progress
        self._name = name
        self._task: Any = None
        self._epochs = 0
        self._steps = 0

    def on_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._epochs, self._steps = epochs, steps_per_epoch
        self._task = self._progress.add_task(self._name, total=epochs * steps_per_epoch, status="starting")

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None:
        self._progress.update(
            self._task,
            completed=(epoch - 1) * self._steps + step,
            status=f"epoch {epoch}/{self._epochs}  loss {loss:.3f}  acc {top1:5.1f}%  {images_per_s:,.0f} img/s",
        )

    def on_epoch_end(self, entry: dict[str, float]) -> None:
        self._progress.console.print(
            f"{self._name} epoch {entry['epoch']}/{self._epochs}: train loss {entry['train_loss']:.3f} "
            f"acc {entry['train_top1']:.1f}%, val loss {entry['val_loss']:.3f} acc {entry['val_top1']:.1f}%, "
            f"lr {entry['lr']:.2e}, {entry['seconds']:.1f} s",
            highlight=False,
        )


class LogObserver:
    """Plain log lines on stderr, one per cell: for pipes, files and CI logs."""

    def __init__(self) -> None:
        self._total = self._done = 0
        self._here = worker_name()
        self.cells_per_worker: dict[str, int] = {}  # other processes (Ray workers) -> cells done

    def __enter__(self) -> LogObserver:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def on_plan(self, total: int, todo: int) -> None:
        self._total = todo
        resumed = f", {total - todo} already done" if total != todo else ""
        stderr.print(f"bench run: {todo} cells to do{resumed}", highlight=False)

    def on_cell_start(self, model: str, variant: str) -> None:
        pass

    def on_phase(self, phase: str) -> None:
        pass

    def on_cell_end(
        self, model: str, variant: str, status: str, seconds: float, error: str | None, worker: str = ""
    ) -> None:
        self._done += 1
        detail = f": {error}" if error else ""
        where = ""
        if worker and worker != self._here:
            self.cells_per_worker[worker] = self.cells_per_worker.get(worker, 0) + 1
            where = f" on {worker} (its cell {self.cells_per_worker[worker]})"
        stderr.print(
            f"[{self._done}/{self._total}] {model} {variant}: {status} ({seconds:.1f} s){where}{detail}",
            highlight=False,
            markup=False,
        )

    def train_callback(self) -> Any:
        return None

    def on_notice(self, message: str) -> None:
        print_notice(message)


def print_notice(message: str) -> None:
    """A provider's notice (what an image folder holds, a damaged cached model) as one stderr line."""
    stderr.print(message, highlight=False, markup=False, soft_wrap=True)


class NoticeObserver(SilentObserver):
    """Shows the provider's notices and nothing else (`bench tune`, whose trials have their own bar)."""

    def on_notice(self, message: str) -> None:
        print_notice(message)


class LiveObserver(LogObserver):
    """A rich display on the terminal: cells done/total with ETA, the current cell and phase,
    and a training bar while a model trains or fine-tunes."""

    def __init__(self) -> None:
        super().__init__()
        self._training = TrainProgress()
        self._progress = self._training.progress
        self._task: Any = None
        self._cell = ""

    def __enter__(self) -> LiveObserver:
        self._training.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._training.__exit__(*exc)

    def on_plan(self, total: int, todo: int) -> None:
        super().on_plan(total, todo)
        self._task = self._progress.add_task("cells", total=todo, status="")

    def on_cell_start(self, model: str, variant: str) -> None:
        self._cell = f"{model} {variant}"
        self._progress.update(self._task, status=self._cell)

    def on_phase(self, phase: str) -> None:
        self._progress.update(self._task, status=f"{self._cell}: {phase}")

    def on_cell_end(
        self, model: str, variant: str, status: str, seconds: float, error: str | None, worker: str = ""
    ) -> None:
        super().on_cell_end(model, variant, status, seconds, error, worker)
        self._progress.advance(self._task)
        if self.cells_per_worker:
            per_worker = ", ".join(f"{name} {count}" for name, count in sorted(self.cells_per_worker.items()))
            self._progress.update(self._task, status=f"cells per worker: {per_worker}")

    def train_callback(self) -> Any:
        return self._training.tracker(self._cell)


class VizObserver(SilentObserver):
    """The training progress bar (when a model must be trained or fine-tuned) and a status line."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._progress = TrainProgress()
        self._phase = "train"

    def __enter__(self) -> VizObserver:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def on_phase(self, phase: str) -> None:
        self._phase = phase  # train, prune, latency search, finetune, evaluate, quantize
        if phase in ("prune", "latency search", "quantize"):
            self._progress.log(f"{self._model}: {phase}")

    def on_figure(self, name: str) -> None:
        self._progress.log(f"{self._model}: drawing {name}")

    def on_notice(self, message: str) -> None:
        self._progress.notice(message)

    def train_callback(self) -> Any:
        return self._progress.tracker(f"{self._model} {self._phase}")


def describe_params(params: dict[str, Any]) -> str:
    """``lr=0.01 epochs=1``: a grid point as `bench tune` shows it."""
    return " ".join(f"{key}={fmt_value(value)}" for key, value in params.items())


class TuneProgress:
    """A rich progress bar on stderr: trials done out of the grid, and the running trial's epoch.

    It is the search's :class:`bench.training.tune.TuneCallback` and hands each trial a
    training callback that updates the same bar.
    """

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=stderr,
        )
        self._task: Any = None
        self._label = ""

    def __enter__(self) -> TuneProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def on_trial_start(self, trial: int, total: int, params: dict[str, Any]) -> Any:
        if self._task is None:
            self._task = self._progress.add_task("trials", total=total, status="")
        self._label = describe_params(params)
        self._progress.update(self._task, status=self._label)
        return _TrialSteps(self)

    def on_trial_end(self, trial: Any) -> None:
        score = f"val top-1 {trial.val_top1:.2f}%" if trial.status == Status.OK else "failed"
        self._progress.console.print(
            f"trial {trial.index}: {describe_params(trial.params)}: {score} ({trial.seconds:.1f} s)", highlight=False
        )
        self._progress.advance(self._task)

    def show(self, status: str) -> None:
        self._progress.update(self._task, status=f"{self._label}  {status}")


class _TrialSteps:
    """The training callback of one trial: its epoch, loss and accuracy on the trials bar."""

    def __init__(self, owner: TuneProgress) -> None:
        self._owner = owner
        self._epochs = 0

    def on_start(self, epochs: int, steps_per_epoch: int) -> None:
        self._epochs = epochs

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None:
        self._owner.show(f"epoch {epoch}/{self._epochs}  loss {loss:.3f}  acc {top1:5.1f}%")

    def on_epoch_end(self, entry: dict[str, float]) -> None:
        self._owner.show(f"epoch {int(entry['epoch'])}/{self._epochs}  val {entry['val_top1']:.1f}%")
