"""Latency-aware pruning: the order in which groups lose channels, read off a measured table.

NetAdapt-style greedy search over a measured latency table (one row per prunable group:
the whole model's latency with only that group narrowed to a few kept fractions, others
full). Latency saved by narrowing a group is read from its row, linearly interpolated
between measured widths, as a ratio to the full model's latency, and the ratios of different
groups are multiplied (the table's approximation). Multiplying is exact for a convolution
between two narrowed groups (its cost scales with both widths, ``c_in * c_out``) and
underestimates the savings of unconnected groups; adding, the other choice, counts shared
layers twice and predicted negative latencies for resnet18 at 50% of its groups. Starting from full widths, each step narrows the one group whose next step
(by ``unit`` channels, the device's fast multiple) saves the most latency per importance
lost: the rise in loss measured on data with the group narrowed
(:mod:`compress.latency_sensitivity`) when the rows carry it, else the l1 scores of the
channels removed over the group's total (so wide and narrow groups compare). A step the
table shows no saving for jumps to the widest measured width below that does save; a group
whose narrowing alone saved nothing the table could resolve (within the timing noise, as a
small layer of a deep network is) comes last, in a tail of steps predicted to save nothing,
down to its narrowest measured width: together such groups can still save time, which only
the measured search can tell. A group whose row holds only its full width (a table cut
short by its budget) keeps that width.

:func:`greedy_path` records every step, from the full model to the narrowest one the table
allows, with the predicted latency after each. The prediction only *orders* the steps: where
to stop on the path is decided by measuring real pruned models (:mod:`compress.latency_prune`),
never by the prediction.
Why greedy, not a knapsack: the savings are not additive exactly, and a path of single steps
gives the measured search one monotone dimension to bisect.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_MIN_FRACTION = 0.125  # no group is narrowed below this share of its width
TIE_BREAK = 1e-3  # weight of the l1 share beside a measured loss rise


@dataclass(frozen=True)
class GroupRow:
    """One prunable group: full width, measured (kept width, whole-model ms) points, scores."""

    width: int
    points: tuple[tuple[int, float], ...]  # (kept channels, latency ms), full width included
    scores: tuple[float, ...]  # importance per channel, any order
    losses: tuple[tuple[int, float], ...] = ()  # (kept channels, loss rise), measured on data

    def latency_at(self, kept: int) -> float:
        """Whole-model latency with this group at ``kept`` channels, linearly interpolated."""
        return _interpolate(sorted(self.points), kept)

    @functools.cached_property
    def _lost_prefix(self) -> tuple[float, ...]:
        ordered = sorted(self.scores)
        total = sum(ordered) or 1.0
        return tuple(s / total for s in itertools.accumulate(ordered, initial=0.0))

    @functools.cached_property
    def _loss_points(self) -> tuple[tuple[int, float], ...]:
        """The measured loss rises, full width (0) included, never falling as width shrinks."""
        ordered = sorted({**dict(self.losses), self.width: 0.0}.items(), reverse=True)
        rising = itertools.accumulate((loss for _, loss in ordered), max)
        return tuple(sorted(zip((w for w, _ in ordered), rising)))

    def importance_lost(self, kept: int) -> float:
        """What the channels removed when ``kept`` (the best) stay cost: the loss rise measured
        on data, interpolated between measured widths, when the row has one (the l1 share breaks
        its ties: a step measured free still costs something); else the normalized l1 importance
        of the channels removed."""
        share = self._lost_prefix[max(0, min(self.width, self.width - kept))]
        if not self.losses:
            return share
        return _interpolate(self._loss_points, kept) + TIE_BREAK * share


def _interpolate(points: Sequence[tuple[int, float]], kept: int) -> float:
    """The value at ``kept`` on sorted (width, value) points, linear between them, flat past them."""
    if kept <= points[0][0]:
        return points[0][1]
    for (w0, t0), (w1, t1) in itertools.pairwise(points):
        if w0 <= kept <= w1:
            return t0 + (t1 - t0) * (kept - w0) / (w1 - w0) if w1 != w0 else t1
    return points[-1][1]


def predicted_ms(baseline_ms: float, rows: Mapping[str, GroupRow], widths: Mapping[str, int]) -> float:
    """Baseline latency times each narrowed group's measured ratio (``latency_at / baseline``):
    savings compose multiplicatively (module docstring)."""
    return baseline_ms * math.prod(rows[name].latency_at(kept) / baseline_ms for name, kept in widths.items())


@dataclass(frozen=True)
class GreedyPath:
    """The greedy's steps: ``steps[i]`` narrows one group to a width, ``predicted[i]`` is the
    predicted latency after ``i`` steps (``predicted[0]``: the baseline, nothing narrowed)."""

    full: dict[str, int]
    steps: tuple[tuple[str, int], ...]
    predicted: tuple[float, ...]

    def __len__(self) -> int:
        """Points on the path, the full model (0 steps) included."""
        return len(self.predicted)

    def widths_at(self, index: int) -> dict[str, int]:
        """Every group's width after the first ``index`` steps."""
        widths = dict(self.full)
        for name, kept in self.steps[:index]:
            widths[name] = kept
        return widths

    def speedup_at(self, index: int) -> float:
        return self.predicted[0] / self.predicted[index]

    def first_reaching(self, speedup: float) -> int:
        """The first point predicted at least ``speedup`` faster (the last point when none is)."""
        ratios = [self.speedup_at(i) for i in range(len(self))]  # never falling: no step costs time
        return min(bisect.bisect_left(ratios, speedup), len(self) - 1)


def greedy_path(
    baseline_ms: float, rows: Mapping[str, GroupRow], *, unit: int = 1, min_fraction: float = DEFAULT_MIN_FRACTION
) -> GreedyPath:
    """Narrow groups one ``unit`` step at a time, best saving per importance lost first (then
    the tail of steps with no resolved saving, least importance lost first), until no group can
    narrow; every step recorded."""
    widths = {name: row.width for name, row in rows.items()}
    floors = {name: max(1, round(row.width * min_fraction)) for name, row in rows.items()}
    offers = {name: _offer(rows[name], widths[name], unit, floors[name]) for name in rows}
    steps: list[tuple[str, int]] = []
    predicted = [baseline_ms]
    current = baseline_ms
    while True:
        live = [(value, name, step, ratio) for name, o in offers.items() if o is not None for value, step, ratio in [o]]
        if not live:
            break
        _, name, step, ratio = max(live, key=lambda item: (item[0], item[1]))
        widths[name] = step
        current *= ratio
        steps.append((name, step))
        predicted.append(current)
        offers[name] = _offer(rows[name], step, unit, floors[name])
    return GreedyPath(
        full={name: row.width for name, row in rows.items()}, steps=tuple(steps), predicted=tuple(predicted)
    )


def _offer(row: GroupRow, kept: int, unit: int, floor: int) -> tuple[float, int, float] | None:
    """(value, next width, latency ratio) of narrowing this group one step: the share of
    latency saved per importance lost, and ``latency_at(next) / latency_at(kept)``. None when
    it cannot narrow, even in the tail. A step the table shows no saving for (a flat or noisy
    stretch between measured widths) jumps to the widest measured width below that does save
    time; with none, the step is a tail step (ratio 1, a negative value), down to the group's
    narrowest measured width."""
    step = _next_width(kept, unit, floor)
    if step is None:
        return None
    lower = sorted((w for w, _ in row.points if floor <= w < step), reverse=True)
    for width in (step, *lower):
        ratio = row.latency_at(width) / row.latency_at(kept)
        if ratio < 1:
            lost = row.importance_lost(width) - row.importance_lost(kept)
            return (1 - ratio) / max(lost, 1e-9), width, ratio
    if step < min(w for w, _ in row.points):
        return None
    # The tail: no saving the table could resolve (a group whose narrowing alone is within the
    # timing noise), so no predicted gain (ratio 1) and a value below every measured saving;
    # the cheapest such steps first. The measured search decides whether the path goes there.
    return -(row.importance_lost(step) - row.importance_lost(kept)), step, 1.0


def _next_width(kept: int, unit: int, floor: int) -> int | None:
    """The next narrower multiple of ``unit`` (or ``kept - unit``), not below ``floor``."""
    step = (kept - 1) // unit * unit if kept % unit else kept - unit
    return step if step >= max(floor, 1) else None
