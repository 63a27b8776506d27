"""Latency-aware pruning: prune to a measured speedup goal (``--prune-target speedup:2``).

:func:`prune_to_target` reads (or measures) the model's latency table on the device
(:mod:`compress.latency_table`), lets :func:`compress.latency_search.greedy_widths` pick
per-group widths whose *predicted* latency meets the goal, prunes a copy to them
(:func:`compress.pruning.prune_to_widths`, the channel selection of ratio pruning) and then
*measures* the pruned model against the baseline in alternating rounds. The table adds the
groups' savings as if independent, so the prediction can miss; when the measured speedup
falls short of the target, the search goal is tightened by the shortfall (``goal * target /
measured``) and the search runs again, at most ``tries`` times, stopping early when the widths
no longer change (nothing left to narrow). The attempt kept is the first that reached the
target, else the fastest measured; :attr:`LatencyPruning.reached` says which.

Every speedup it reports is one it measured (the median of the per-round ratios, with the
slowest and fastest round): the prediction is kept beside it in each :class:`Attempt`, never
in its place.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.profiling.timing import TimingConfig
from compress.importance import DEFAULT_CRITERION
from compress.latency_search import greedy_widths, predicted_ms
from compress.latency_table import InterleavedTimer, TableRequest, Timer, build_latency_table
from compress.prune_target import PruneTarget, parse_target
from compress.pruning import group_roots, prune_to_widths

DEFAULT_TRIES = 3
DEFAULT_ROUNDS = 5
DEFAULT_BUDGET_S = 300.0  # resnet50 at 224, batch 1, one thread of a 2-core Xeon: the full table in 253 s
MAX_TIGHTEN = 1.5  # one retry asks at most 1.5x the previous goal
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
        }


@dataclass(frozen=True)
class Attempt:
    """One search: the goal it was given, its predicted and measured speedups, its widths."""

    goal: float
    predicted: float
    measured: float
    low: float
    high: float
    widths: dict[str, int]


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
    full: dict[str, int] = field(default_factory=dict)
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
) -> tuple[nn.Module, LatencyPruning]:
    """A pruned copy of ``model`` (on the CPU; ``model`` is not changed) and how it was found.

    ``timer`` times the latency table's points, ``check_timer`` the pruned model against the
    baseline (defaults: :class:`~compress.latency_table.InterleavedTimer` on ``settings.device``,
    short rounds for the table, ``settings.rounds`` of ``settings.check_timing`` for the check).
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
    rows = table.rows({name: group.scores.tolist() for name, group in roots})
    inputs = torch.randn(settings.batch_size, *example.shape[1:], generator=torch.Generator().manual_seed(0))
    search = _Search(full={name: row.width for name, row in rows.items()})
    wanted = goal.speedup
    for _ in range(max(1, settings.tries)):
        widths = greedy_widths(table.baseline_ms, rows, table.baseline_ms / wanted, unit=table.multiple)
        if search.attempts and widths == search.attempts[-1].widths:
            break  # the search cannot narrow further: another try would measure the same model
        pruned = copy.deepcopy(master)
        prune_to_widths(pruned, {n: w for n, w in widths.items() if w < search.full[n]}, example, criterion=criterion)
        measured, low, high = check([reference, pruned], inputs).speedups[1]
        predicted = table.baseline_ms / predicted_ms(table.baseline_ms, rows, widths)
        search.attempts.append(Attempt(wanted, predicted, measured, low, high, dict(widths)))
        search.models.append(pruned)
        if measured >= goal.speedup:
            break
        wanted = wanted * min(MAX_TIGHTEN, max(goal.speedup / max(measured, 1e-9), 1.05))
    reached = [i for i, a in enumerate(search.attempts) if a.measured >= goal.speedup]
    index = reached[0] if reached else max(range(len(search.attempts)), key=lambda i: search.attempts[i].measured)
    chosen = search.attempts[index]
    result = LatencyPruning(
        target=f"speedup:{goal.speedup:g}",
        speedup=chosen.measured,
        low=chosen.low,
        high=chosen.high,
        reached=bool(reached),
        widths=dict(chosen.widths),
        full_widths=dict(search.full),
        attempts=tuple(search.attempts),
        multiple=table.multiple,
        batch_size=settings.batch_size,
        device=settings.device,
        table_truncated=table.truncated,
        table_seconds=table.seconds,
        table_cached=table.from_cache,
        table_path=table.path,
    )
    return search.models[index].cpu(), result


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
