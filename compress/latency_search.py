"""Latency-aware pruning: per-group widths that reach a measured speedup goal.

NetAdapt-style greedy search over a measured latency table (one row per prunable group:
the whole model's latency with only that group narrowed to a few kept fractions, others
full). Latency saved by narrowing a group is read from its row, linearly interpolated
between measured widths, and the savings of different groups are added (the table's
approximation; the real model is measured afterwards, so the approximation never reaches a
reported number). Starting from full widths, each step narrows the one group whose next
step (by ``unit`` channels, the device's fast multiple) saves the most latency per
importance lost (the l1 scores of the channels removed, over the group's total, so wide and
narrow groups compare), until the predicted latency is at most ``baseline / speedup``. A step
the table shows no saving for is never taken: a group whose row holds only its full width
(a table cut short by its budget) keeps that width.
Why greedy, not a knapsack: the savings are not additive exactly, and one step at a time
keeps the order of groups narrowed readable and lets a retry simply go further.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupRow:
    """One prunable group: full width, measured (kept width, whole-model ms) points, scores."""

    width: int
    points: tuple[tuple[int, float], ...]  # (kept channels, latency ms), full width included
    scores: tuple[float, ...]  # importance per channel, any order

    def latency_at(self, kept: int) -> float:
        """Whole-model latency with this group at ``kept`` channels, linearly interpolated."""
        pts = sorted(self.points)
        if kept <= pts[0][0]:
            return pts[0][1]
        for (w0, t0), (w1, t1) in zip(pts, pts[1:]):
            if w0 <= kept <= w1:
                return t0 + (t1 - t0) * (kept - w0) / (w1 - w0) if w1 != w0 else t1
        return pts[-1][1]

    def importance_lost(self, kept: int) -> float:
        """Normalized importance of the channels removed when ``kept`` (the best) stay."""
        ordered = sorted(self.scores)
        total = sum(ordered) or 1.0
        return sum(ordered[: self.width - kept]) / total


def predicted_ms(baseline_ms: float, rows: Mapping[str, GroupRow], widths: Mapping[str, int]) -> float:
    """Baseline latency minus each narrowed group's saving (savings assumed additive)."""
    saved = sum(baseline_ms - rows[name].latency_at(kept) for name, kept in widths.items())
    return baseline_ms - saved


def greedy_widths(
    baseline_ms: float, rows: Mapping[str, GroupRow], goal_ms: float, *, unit: int = 1, min_fraction: float = 0.125
) -> dict[str, int]:
    """Narrow groups one ``unit`` step at a time, best saving per importance lost first,
    until :func:`predicted_ms` <= ``goal_ms`` or no group can narrow further."""
    widths = {name: row.width for name, row in rows.items()}
    while predicted_ms(baseline_ms, rows, widths) > goal_ms:
        best: tuple[float, str, int] | None = None
        for name, row in rows.items():
            step = _next_width(widths[name], unit, max(1, round(row.width * min_fraction)))
            if step is None:
                continue
            saved = row.latency_at(widths[name]) - row.latency_at(step)
            if saved <= 0:  # no measured saving (a group the table has no narrowed point for)
                continue
            lost = row.importance_lost(step) - row.importance_lost(widths[name])
            value = saved / max(lost, 1e-9)
            if best is None or value > best[0]:
                best = (value, name, step)
        if best is None:
            break
        widths[best[1]] = best[2]
    return widths


def _next_width(kept: int, unit: int, floor: int) -> int | None:
    """The next narrower multiple of ``unit`` (or ``kept - unit``), not below ``floor``."""
    step = (kept - 1) // unit * unit if kept % unit else kept - unit
    return step if step >= max(floor, 1) else None
