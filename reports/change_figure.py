"""The run-to-run figure of `bench report RUN --baseline OTHER`: each matched row's change, per check.

One panel per check of the comparison (:mod:`reports.compare`), one line per matched row, a dot
at the change (percent of BASE for ``N%`` thresholds, the metric's unit for absolute ones), the
region past the threshold shaded, and the change's confidence interval as an error bar where the
comparison gives one. :func:`change_interval` is the one place an interval is read from, so the
figure draws the same with and without intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bench.viz.figures import PlotResult
from reports.compare import Comparison, RowComparison
from reports.figure_style import MARKER_PT, NEUTRAL, OKABE_ITO, new_figure, row_label
from reports.plots import Drawn, save_drawn
from reports.thresholds import Check, CheckOutcome, PercentThreshold, Verdict

MAX_ROWS = 40  # more matched rows than this: the largest changes (and every regression) are drawn
VERDICT_COLORS = {
    Verdict.REGRESSION: OKABE_ITO[3],  # vermillion
    Verdict.IMPROVED: OKABE_ITO[2],  # bluish green
    Verdict.NOISE: OKABE_ITO[1],  # orange
    Verdict.UNSTABLE: OKABE_ITO[4],  # reddish purple
    Verdict.OK: OKABE_ITO[0],  # blue
}
_REGION = "#FBE3D6"  # past the threshold, the worse way: a light vermillion


def change_interval(outcome: CheckOutcome) -> tuple[float, float] | None:
    """The confidence interval of ``outcome``'s relative change, as fractions of BASE like
    ``outcome.relative`` (low, high): the timing checks' bootstrap (or IQR) interval; None
    where the comparison gives none (deterministic checks, rows judged on the threshold alone)."""
    interval = outcome.interval
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return None
    return interval.low, interval.high


def _percent(check: Check) -> bool:
    return isinstance(check.threshold, PercentThreshold)


def _change(outcome: CheckOutcome, check: Check) -> float | None:
    """The plotted change: percent of BASE, or NEW - BASE in the metric's unit."""
    if outcome.verdict is Verdict.MISSING or outcome.base is None or outcome.new is None:
        return None
    value = outcome.relative * 100 if _percent(check) and outcome.relative is not None else outcome.new - outcome.base
    return value if math.isfinite(value) else None


def _interval(outcome: CheckOutcome, check: Check) -> tuple[float, float] | None:
    """:func:`change_interval` in the plotted unit."""
    interval = change_interval(outcome)
    if interval is None:
        return None
    low, high = interval
    scale = 100.0 if _percent(check) else abs(outcome.base or 0.0)
    return low * scale, high * scale


def _outcome(row: RowComparison, check: Check) -> CheckOutcome | None:
    return next((outcome for outcome in row.outcomes if outcome.check == check.spec), None)


def _label(row: RowComparison) -> str:
    key = row.key
    return f"{row_label(key)}, {key.get('device')} b{key.get('batch_size')}"


def _shown_rows(rows: Sequence[RowComparison], checks: Sequence[Check]) -> list[RowComparison]:
    """The rows to draw, in the comparison's order: all of them, or the largest changes of the
    first timing check (else the first check) and every regression when there are too many."""
    drawable = [row for row in rows if any(_change(o, c) is not None for c in checks if (o := _outcome(row, c)))]
    if len(drawable) <= MAX_ROWS:
        return drawable
    main = next((check for check in checks if check.metric.timing), checks[0])

    def size(row: RowComparison) -> float:
        outcome = _outcome(row, main)
        change = _change(outcome, main) if outcome else None
        return abs(change) if change is not None else -1.0

    keep = {id(row) for row in drawable if row.regressions()}
    for row in sorted(drawable, key=size, reverse=True):
        if len(keep) >= MAX_ROWS:
            break
        keep.add(id(row))
    return [row for row in drawable if id(row) in keep]


def draw_change(comparison: Comparison) -> Drawn:
    """Per-row change of every check that moved, one panel per check (see the module docstring)."""
    rows = [row for row in comparison.rows if row.both_ok]
    checks = [
        check
        for check in comparison.checks
        if any((o := _outcome(row, check)) and _change(o, check) not in (None, 0.0) for row in rows)
    ]
    if not checks:
        return "no checked value changed between the two runs"
    shown = _shown_rows(rows, checks)
    figure = new_figure(3.6 * len(checks) + 2.6, 0.24 * len(shown) + 2.0)
    panels = figure.subplots(1, len(checks), sharey=True, squeeze=False)[0]
    verdicts: list[Verdict] = []
    with_intervals = False
    for axes, check in zip(panels, checks):
        for index, row in enumerate(shown):
            outcome = _outcome(row, check)
            change = _change(outcome, check) if outcome else None
            if change is None:
                continue
            interval = _interval(outcome, check)
            color = VERDICT_COLORS.get(outcome.verdict, NEUTRAL)
            if interval is not None:
                low, high = interval
                axes.errorbar(
                    change, index, xerr=[[max(0.0, change - low)], [max(0.0, high - change)]], color=color,
                    linewidth=1.0, capsize=2, zorder=2,
                )  # fmt: skip
                with_intervals = True
            axes.scatter(change, index, s=MARKER_PT**2, color=color, zorder=3)
            verdicts.append(outcome.verdict)
        _threshold_region(axes, check)
        axes.axvline(0.0, color="black", linewidth=0.8, zorder=1)
        axes.set_title(f"{check.metric.name} (limit {check.spec.split(':', 1)[1]})", fontsize=9)
        axes.set_xlabel("change (% of BASE)" if _percent(check) else f"change ({check.metric.unit})")
        axes.grid(True, axis="x", alpha=0.3)
    panels[0].set_yticks(range(len(shown)), [_label(row) for row in shown], fontsize=7)
    panels[0].set_ylim(len(shown) - 0.5, -0.5)
    figure.suptitle(_title(comparison, len(shown), len(rows)), fontsize=10)
    figure.legend(
        handles=_keys(verdicts, with_intervals), loc="outside lower center", ncols=3, fontsize=8, frameon=False
    )
    return figure


def _threshold_region(axes, check: Check) -> None:
    """Shade where a change exceeds the threshold the worse way (for timing, noise may still excuse it)."""
    limit = check.threshold.limit
    low, high = axes.get_xlim()
    if check.metric.higher_is_better:
        edge = -limit
        axes.axvspan(min(low, edge) - abs(high - low), edge, color=_REGION, zorder=0, linewidth=0)
    else:
        edge = limit
        axes.axvspan(edge, max(high, edge) + abs(high - low), color=_REGION, zorder=0, linewidth=0)
    axes.set_xlim(min(low, edge - abs(edge) * 0.1 - 1e-9), max(high, edge + abs(edge) * 0.1 + 1e-9))


def _title(comparison: Comparison, shown: int, total: int) -> str:
    base = comparison.base_run.get("created") or str(comparison.base_path)
    new = comparison.new_run.get("created") or str(comparison.new_path)
    if shown == total:
        which = f"all {total} rows measured in both"
    else:
        which = f"{shown} of {total} rows: every regression and the largest changes; the table lists all"
    return f"Change from the baseline run, per row ({which})\nBASE {base} -> NEW {new}"


def _keys(verdicts: Sequence[Verdict], with_intervals: bool) -> list:
    keys: list = [
        Line2D([], [], marker="o", linestyle="none", color=VERDICT_COLORS[verdict], label=verdict.value)
        for verdict in VERDICT_COLORS
        if verdict in verdicts
    ]
    keys.append(Patch(facecolor=_REGION, label="past the threshold"))
    if with_intervals:
        keys.append(Line2D([], [], color=NEUTRAL, marker="|", label="confidence interval"))
    else:
        keys.append(Line2D([], [], linestyle="none", marker="none", label="no confidence intervals in this comparison"))
    return keys


def plot_change(comparison: Comparison, path: Path) -> PlotResult:
    return save_drawn(draw_change(comparison), path)
