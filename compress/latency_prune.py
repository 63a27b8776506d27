"""Latency-aware pruning: prune to a measured speedup goal (``--prune-target speedup:2``).

:func:`prune_to_target` reads (or measures) the model's latency table on the device
(:mod:`compress.latency_table`), lets :func:`compress.latency_search.greedy_path` order the
single-channel-step narrowings of every group (best predicted saving per importance lost
first, from the full model to the narrowest one the table allows), and then searches that
path by *measuring*: a point is pruned from a copy (:func:`compress.pruning.prune_to_widths`,
the channel selection of ratio pruning) and timed against the baseline in alternating
rounds. The first point is the one predicted to reach the goal; a miss moves on by the
shortfall (the point predicted ``goal / measured`` further); once one point reaches the goal
and another misses, the bracket between them is bisected, at most ``tries`` measurements in
all, until no step or less than :data:`RESOLUTION` of predicted speedup lies between them (in
the path's tail, where the prediction is flat, the steps are halved instead).
The table composes the groups' savings as if independent, which they are not; the
prediction only orders the path, measurement decides where on it to stop. The
point kept is the least pruned one measured at the goal (the most channels, so the most
accuracy, for the speedup asked), else the fastest measured; :attr:`LatencyPruning.reached`
says which.

Every speedup it reports is one it measured (the median of the per-round ratios, with the
slowest and fastest round): the prediction is kept beside it in each :class:`Attempt`, never
in its place.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.profiling.timing import TimingConfig
from compress.importance import DEFAULT_CRITERION
from compress.latency_search import GreedyPath, greedy_path
from compress.latency_sensitivity import loss_increase
from compress.latency_table import InterleavedTimer, TableRequest, Timer, build_latency_table
from compress.prune_target import PruneTarget, parse_target
from compress.pruning import group_roots, prune_to_widths

SEARCH_VERSION = 4  # in the pruned-model cache key: a cached model found by an older search is searched again
DEFAULT_TRIES = 6
RESOLUTION = 0.03  # stop narrowing the bracket when its two ends are predicted within 3%
DEFAULT_ROUNDS = 5
DEFAULT_BUDGET_S = 300.0  # resnet50 at 224, batch 1, one thread of a 2-core Xeon: the full table in 253 s
CHECK_TIMING = TimingConfig(warmup_iters=5, warmup_s=0.2, min_iters=20, min_time_s=1.0, max_time_s=30.0)


@dataclass(frozen=True)
class LatencySettings:
    """Where and how latency-aware pruning measures: device, batch size, threads, the table's
    budget and cache, the retries and the rounds of the final measurement."""

    device: str = "cpu"
    batch_size: int = 1
    threads: int | None = None
    budget_s: float = DEFAULT_BUDGET_S
    cache_dir: Path | None = None
    tries: int = DEFAULT_TRIES
    rounds: int = DEFAULT_ROUNDS
    check_timing: TimingConfig = CHECK_TIMING

    def table_request(self, criterion: str) -> TableRequest:
        return TableRequest(
            device=self.device,
            batch_size=self.batch_size,
            threads=self.threads,
            budget_s=self.budget_s,
            cache_dir=self.cache_dir,
            criterion=criterion,
        )

    def environment_key(self) -> dict[str, Any]:
        """What a latency-pruned model depends on besides the baseline (the pruned-model cache key)."""
        from bench.profiling.environment import device_name

        device = torch.device(self.device)
        return {
            "device": str(device),
            "device_name": device_name(device),
            "torch": torch.__version__,
            "threads": self.threads or torch.get_num_threads(),
            "batch_size": self.batch_size,
            "budget_s": self.budget_s,
            "tries": self.tries,
            "search": SEARCH_VERSION,
        }


@dataclass(frozen=True)
class Attempt:
    """One measured point of the path: the predicted speedup it was chosen for (``goal``), its
    own predicted and measured speedups (``low``..``high`` over rounds), widths and path step."""

    goal: float
    predicted: float
    measured: float
    low: float
    high: float
    widths: dict[str, int]
    step: int = 0


@dataclass
class _Bracket:
    """The path steps measured so far, and which of them reached the goal."""

    measured: dict[int, bool] = field(default_factory=dict)

    def add(self, step: int, reached: bool) -> None:
        self.measured[step] = reached

    @property
    def below(self) -> int:
        """The furthest step measured short of the goal (0, the baseline, when none was)."""
        return max((s for s, ok in self.measured.items() if not ok), default=0)

    @property
    def above(self) -> int | None:
        """The nearest step measured at or past the goal (None when none was)."""
        return min((s for s, ok in self.measured.items() if ok), default=None)


def _next_point(
    path: GreedyPath, bracket: _Bracket, step: int, measured: float, goal: float
) -> tuple[int | None, float]:
    """The next path step to measure and the predicted speedup it was chosen for; None when
    the bracket is closed (no step left between a miss and a hit, or their predictions within
    :data:`RESOLUTION`) or the path's end already missed the goal."""
    below, above = bracket.below, bracket.above
    last = len(path) - 1
    if above is None:
        if below >= last:
            return None, goal  # the narrowest point the table allows is too slow
        wanted = path.speedup_at(step) * goal / max(measured, 1e-9)  # correct the prediction by the miss
        return min(last, max(path.first_reaching(wanted), below + 1)), wanted
    if above - below <= 1:
        return None, goal
    if path.speedup_at(above) / path.speedup_at(below) >= 1 + RESOLUTION:
        wanted = math.sqrt(path.speedup_at(below) * path.speedup_at(above))
        return min(above - 1, max(path.first_reaching(wanted), below + 1)), wanted
    if path.predicted[above] == path.predicted[above - 1]:  # in the tail, predicted flat: halve the steps
        return (below + above) // 2, path.speedup_at((below + above) // 2)
    return None, goal


@dataclass(frozen=True)
class LatencyPruning:
    """What latency-aware pruning did; ``speedup`` (``low``..``high`` over rounds) was measured."""

    target: str  # canonical goal, speedup:2
    speedup: float
    low: float
    high: float
    reached: bool
    widths: dict[str, int]  # kept channels per group (root layer), every group
    full_widths: dict[str, int]  # the baseline's widths of the same groups
    attempts: tuple[Attempt, ...]
    multiple: int  # the device's channel multiple the search stepped by
    batch_size: int
    device: str
    table_truncated: bool
    table_seconds: float
    table_cached: bool
    table_path: str | None = None

    @property
    def narrowed(self) -> dict[str, int]:
        """The widths of the groups that lost channels (the others keep :attr:`full_widths`)."""
        return {name: kept for name, kept in self.widths.items() if kept < self.full_widths[name]}

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["attempts"] = [dict(a.__dict__) for a in self.attempts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyPruning:
        fields = dict(data)
        fields["attempts"] = tuple(Attempt(**a) for a in data.get("attempts", ()))
        fields["widths"] = {k: int(v) for k, v in data["widths"].items()}
        fields["full_widths"] = {k: int(v) for k, v in data["full_widths"].items()}
        return cls(**fields)


@dataclass
class _Search:
    attempts: list[Attempt] = field(default_factory=list)
    models: list[nn.Module] = field(default_factory=list)


def prune_to_target(
    model: nn.Module,
    target: PruneTarget | str,
    example_inputs: torch.Tensor,
    *,
    settings: LatencySettings = LatencySettings(),
    criterion: str = DEFAULT_CRITERION,
    timer: Timer | None = None,
    check_timer: Timer | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sensitivity_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[nn.Module, LatencyPruning]:
    """A pruned copy of ``model`` (on the CPU; ``model`` is not changed) and how it was found.

    ``timer`` times the latency table's points, ``check_timer`` the pruned model against the
    baseline (defaults: :class:`~compress.latency_table.InterleavedTimer` on ``settings.device``,
    short rounds for the table, ``settings.rounds`` of ``settings.check_timing`` for the check).
    ``sensitivity_batches`` (labelled images): the search weighs each narrowing by the loss it
    adds on them (:mod:`compress.latency_sensitivity`) instead of the l1 share it removes.
    """
    goal = parse_target(target) if isinstance(target, str) else target
    master = copy.deepcopy(model).cpu()  # pruned from, on the CPU; never handed to a timer
    reference = copy.deepcopy(master)  # the baseline the timers run (on ``settings.device``)
    example = example_inputs[:1].cpu()
    roots = group_roots(master, example, criterion)
    table = build_latency_table(
        master, example, settings.table_request(criterion), timer=timer, clock=clock, roots=roots
    )
    check = (
        check_timer
        or timer
        or InterleavedTimer(settings.device, settings.threads, settings.check_timing, settings.rounds)
    )
    losses = (
        loss_increase(master, example, table.narrowed_widths(), list(sensitivity_batches), criterion=criterion)
        if sensitivity_batches is not None
        else None
    )
    rows = table.rows({name: group.scores.tolist() for name, group in roots}, losses)
    inputs = torch.randn(settings.batch_size, *example.shape[1:], generator=torch.Generator().manual_seed(0))
    path = greedy_path(table.baseline_ms, rows, unit=table.multiple)
    search = _Search()
    bracket = _Bracket()
    index: int | None = path.first_reaching(goal.speedup)
    wanted = goal.speedup
    for _ in range(max(1, settings.tries)):
        if index is None or index in bracket.measured:
            break
        widths = path.widths_at(index)
        pruned = copy.deepcopy(master)
        prune_to_widths(pruned, {n: w for n, w in widths.items() if w < path.full[n]}, example, criterion=criterion)
        measured, low, high = check([reference, pruned], inputs).speedups[1]
        search.attempts.append(Attempt(wanted, path.speedup_at(index), measured, low, high, dict(widths), index))
        search.models.append(pruned)
        bracket.add(index, measured >= goal.speedup)
        index, wanted = _next_point(path, bracket, index, measured, goal.speedup)
    reached = [i for i, a in enumerate(search.attempts) if a.measured >= goal.speedup]
    pick = (
        min(reached, key=lambda i: search.attempts[i].step)  # the least pruned that measured at the goal
        if reached
        else max(range(len(search.attempts)), key=lambda i: search.attempts[i].measured)
    )
    chosen = search.attempts[pick]
    result = LatencyPruning(
        target=f"speedup:{goal.speedup:g}",
        speedup=chosen.measured,
        low=chosen.low,
        high=chosen.high,
        reached=bool(reached),
        widths=dict(chosen.widths),
        full_widths=dict(path.full),
        attempts=tuple(search.attempts),
        multiple=table.multiple,
        batch_size=settings.batch_size,
        device=settings.device,
        table_truncated=table.truncated,
        table_seconds=table.seconds,
        table_cached=table.from_cache,
        table_path=table.path,
    )
    return search.models[pick].cpu(), result


def latency_fields(found: LatencyPruning) -> dict[str, Any]:
    """The result-row fields of a latency-aware variant (bench.results.schema): goal, measured
    speedup, widths (JSON, every group) and the batch size it was measured at."""
    return {
        "prune_target": found.target,
        "prune_speedup_measured": found.speedup,
        "prune_widths": json.dumps(found.widths, sort_keys=True),
        "prune_search_batch": found.batch_size,
    }


def with_cache_dir(settings: LatencySettings, cache_dir: Path | None) -> LatencySettings:
    """``settings`` with the table cached under ``cache_dir`` (unless it already names one)."""
    return settings if settings.cache_dir is not None else replace(settings, cache_dir=cache_dir)
