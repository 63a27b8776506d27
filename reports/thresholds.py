"""Regression checks for `bench compare`: ``METRIC:THRESHOLD`` strings parsed into small classes.

Modelled on pytest-benchmark's ``--benchmark-compare-fail=median:10%``: a string names a
metric and how much worse NEW may be than BASE before the comparison fails.

How a threshold is read
-----------------------
``METRIC:N%`` lets NEW be worse than BASE by N percent of BASE; ``METRIC:N`` by N in the
metric's own unit (ms, images/s, MiB, parameters, MACs, accuracy points). Which way is
worse is known per metric (:data:`METRICS`), so no sign is needed. A sign, when given, must
point the worse way: ``+`` for lower-is-better metrics (``latency_ms_p50:+10%``), ``-`` for
higher-is-better ones (``throughput_ips:-10%``, ``top1:-0.5``). A sign pointing the other
way (``latency_ms_p50:-10%``) is contradictory and rejected rather than guessed at. Zero
forbids any worsening (``params:0%``). Improvements never fail.

Deterministic metrics and timing
--------------------------------
Which fields can be checked, their unit and which way is better come from the schema
(:data:`bench.results.schema.FIELDS`: every field with a direction, except single wall-clock
readings such as ``compile_ms``). Counts, sizes and accuracy on a fixed seed do not move
between identical runs, so their checks are hard gates (:class:`HardCheck`): any excess over
the threshold fails.

Timing (the fields the timing loop measures: latency statistics and throughput) is noisy,
so a :class:`TimingCheck` decides from the two runs' latency samples (:mod:`reports.robust`):

* the change is the point estimate ``NEW / BASE - 1`` of the metric (throughput: batch /
  mean latency);
* its 95% interval is a seeded bootstrap of the ratio of the statistic over the two sample
  sets (2000 resamples; BASE pooled over every baseline run given), so the same files always
  give the same verdict;
* **REGRESSION** when the change is worse than the threshold AND the interval excludes no
  change (lies wholly on the worse side of 0); **noise** when it is worse than the threshold
  but the interval includes no change; **improved** when better than the threshold and the
  interval lies wholly on the better side; **ok** otherwise.
* Rows without samples (files written before samples were kept) use the IQR fallback of
  :func:`reports.robust.iqr_interval`: ``change +- 1.96 * sqrt(e_BASE^2 + e_NEW^2)`` with
  ``e = IQR / (p50 * sqrt(iterations))``, then the same rule. Rows without p25/p75 either
  (the oldest files) are judged on the threshold alone. p90 and the std are never used as
  the spread: under a heavy tail they overstate the median's error many times over.
* A row whose timing blocks disagreed (``timing_warnings``) is shown as **unstable** where it
  would be ok, and its warning is named; a regression stays a regression.

The verdict line shows the interval: ``latency_ms_p50 0.2812 -> 0.4218 (+50.0%, 95% CI
+46..+55%; limit latency_ms_p50:+10%)``.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bench.errors import BenchError, suggest
from bench.results.formatting import format_interval, format_percent, format_value
from bench.results.samples import row_samples
from bench.results.schema import CLOCK, FIELDS, TIMER
from reports.robust import Interval, iqr_interval, pooled, ratio_interval, statistic

_EPS = 1e-12  # float slack so that a drop of exactly the threshold does not fail

# `bench compare` and `bench run --baseline` use these when no --fail is given: the
# deterministic figures gated hard, accuracy to half a point, latency only past 25%.
DEFAULT_CHECKS: tuple[str, ...] = ("params:0%", "macs:0%", "top1:-0.5", "latency_ms_p50:25%")


@dataclass(frozen=True)
class Metric:
    """A result field that can be checked, and which way is worse (from its schema Field)."""

    name: str
    higher_is_better: bool
    unit: str
    timing: bool = False  # noisy: judged on the two runs' latency samples

    @property
    def worse_sign(self) -> str:
        return "-" if self.higher_is_better else "+"


METRICS: dict[str, Metric] = {
    f.name: Metric(f.name, f.higher_is_better, f.unit, timing=f.measured_by == TIMER)
    for f in FIELDS
    if f.higher_is_better is not None and f.measured_by != CLOCK
}


class Verdict(str, Enum):
    OK = "ok"  # within the threshold
    IMPROVED = "improved"  # better by more than the threshold (and, for timing, significantly)
    NOISE = "noise"  # worse than the threshold, but the interval includes no change
    UNSTABLE = "unstable"  # would be ok, but a side's timing blocks disagreed (timing_warnings)
    REGRESSION = "REGRESSION"
    MISSING = "n/a"  # not measured on one side


@dataclass(frozen=True)
class CheckOutcome:
    """One check applied to one pair of rows."""

    check: str  # the check as written, e.g. "latency_ms_p50:10%"
    metric: str
    base: float | None
    new: float | None
    verdict: Verdict
    relative: float | None = None  # (new - base) / |base|; +-inf from a zero BASE
    interval: Interval | None = None  # of the relative change (timing only)
    warnings: str = ""  # timing_warnings of either side

    @property
    def regressed(self) -> bool:
        return self.verdict is Verdict.REGRESSION

    def change_text(self) -> str:
        """'+50.0%, 95% CI +46..+55%' (the interval where there is one)."""
        text = format_percent(self.relative)
        if self.interval is not None:
            label = "" if self.interval.method == "bootstrap" else " (IQR)"
            text += f", {format_interval(self.interval.low, self.interval.high, self.interval.level)}{label}"
        return text

    def explain(self) -> str:
        """One line for a human: what moved, by how much, and why it (does not) fail."""
        if self.verdict is Verdict.MISSING:
            side = "BASE" if self.base is None else "NEW"
            return f"{self.metric} not measured in {side}"
        values = f"{format_value(self.base)} -> {format_value(self.new)}"
        text = f"{self.metric} {values} ({self.change_text()}; limit {self.check})"
        if self.interval is not None:
            text += ", the interval " + ("excludes" if self.interval.excludes_zero() else "includes") + " no change"
        if self.warnings:
            text += f"; {self.warnings}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "metric": self.metric,
            "base": self.base,
            "new": self.new,
            "relative": self.relative,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "warnings": self.warnings or None,
            "verdict": self.verdict.value,
        }


@dataclass(frozen=True)
class Threshold(ABC):
    """How much worse NEW may be; :meth:`amount` measures a worsening in the same unit."""

    limit: float  # >= 0

    @abstractmethod
    def amount(self, worsening: float, base: float) -> float:
        """``worsening`` (metric units, positive = worse) expressed in the threshold's unit."""

    @abstractmethod
    def text(self) -> str:
        """The threshold as written, without a sign: ``10%`` or ``0.5``."""


@dataclass(frozen=True)
class PercentThreshold(Threshold):
    """``N%``: percent of BASE."""

    def amount(self, worsening: float, base: float) -> float:
        if base == 0:
            return 0.0 if worsening == 0 else math.copysign(math.inf, worsening)
        return 100.0 * worsening / abs(base)

    def text(self) -> str:
        return f"{self.limit:g}%"


@dataclass(frozen=True)
class AbsoluteThreshold(Threshold):
    """``N``: in the metric's own unit (accuracy points for top1/top5)."""

    def amount(self, worsening: float, base: float) -> float:
        return worsening

    def text(self) -> str:
        return f"{self.limit:g}"


@dataclass(frozen=True)
class Check:
    """A metric and its threshold; subclasses decide what counts as significant."""

    metric: Metric
    threshold: Threshold

    @property
    def spec(self) -> str:
        """The canonical string, the sign pointing the worse way: ``top1:-0.5``."""
        sign = self.metric.worse_sign if self.threshold.limit else ""
        return f"{self.metric.name}:{sign}{self.threshold.text()}"

    def values(self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any]) -> tuple[Any, Any]:
        """(BASE, NEW) values of the metric; BASE from the last baseline row."""
        return base_rows[-1].get(self.metric.name), new_row.get(self.metric.name)

    def interval(
        self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any], relative: float
    ) -> Interval | None:
        """The interval of the relative change; None = judged on the threshold alone."""
        return None

    def evaluate(self, base_row: dict[str, Any] | Sequence[dict[str, Any]], new_row: dict[str, Any]) -> CheckOutcome:
        """Check NEW against one baseline row, or several (oldest first) pooled as one."""
        base_rows = [base_row] if isinstance(base_row, dict) else list(base_row)
        name = self.metric.name
        base, new = self.values(base_rows, new_row)
        if base is None or new is None:
            return CheckOutcome(self.spec, name, base, new, Verdict.MISSING)
        base, new = float(base), float(new)
        delta = new - base
        worsening = -delta if self.metric.higher_is_better else delta
        amount = self.threshold.amount(worsening, base)
        if base:
            relative = delta / abs(base)
        else:
            relative = 0.0 if delta == 0 else math.copysign(math.inf, delta)
        interval = self.interval(base_rows, new_row, relative) if math.isfinite(relative) else None
        worse_side, better_side = _sides(interval, self.metric.higher_is_better)
        slack = self.threshold.limit + _EPS * max(1.0, abs(self.threshold.limit))
        if amount > slack:
            verdict = Verdict.REGRESSION if worse_side else Verdict.NOISE
        elif -amount > slack and better_side:
            verdict = Verdict.IMPROVED
        else:
            verdict = Verdict.OK
        warnings = self.warnings(base_rows, new_row)
        if warnings and verdict is Verdict.OK:
            verdict = Verdict.UNSTABLE
        return CheckOutcome(self.spec, name, base, new, verdict, relative, interval, warnings)

    def warnings(self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any]) -> str:
        return ""


def _sides(interval: Interval | None, higher_is_better: bool) -> tuple[bool, bool]:
    """(interval wholly on the worse side of no change, wholly on the better side); no
    interval counts as both, so the threshold alone decides."""
    if interval is None:
        return True, True
    above, below = interval.low > 0, interval.high < 0
    return (below, above) if higher_is_better else (above, below)


class HardCheck(Check):
    """Deterministic metrics (params, MACs, size, accuracy on a fixed seed): any excess fails."""


class TimingCheck(Check):
    """Latency and throughput: a regression must also be significant (module docstring)."""

    def values(self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any]) -> tuple[Any, Any]:
        if len(base_rows) == 1:
            return super().values(base_rows, new_row)
        samples = pooled([row_samples(row) for row in base_rows])
        if samples is None:
            return super().values(base_rows, new_row)
        value = statistic(self.metric.name, samples)
        if self.metric.name == "throughput_ips":
            value *= float(base_rows[-1].get("batch_size") or 1)
        return value, new_row.get(self.metric.name)

    def interval(
        self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any], relative: float
    ) -> Interval | None:
        base_samples = pooled([row_samples(row) for row in base_rows])
        new_samples = row_samples(new_row)
        if base_samples is not None and new_samples is not None:
            return ratio_interval(self.metric.name, base_samples, new_samples)
        return iqr_interval(relative, base_rows[-1], new_row)

    def warnings(self, base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any]) -> str:
        return timing_warnings(base_rows, new_row)


def timing_warnings(base_rows: Sequence[dict[str, Any]], new_row: dict[str, Any]) -> str:
    """'BASE ...; NEW ...': the distinct ``timing_warnings`` of each side ('' when stable)."""
    return "; ".join(
        f"{side} {text}"
        for side, rows in (("BASE", base_rows), ("NEW", [new_row]))
        for text in sorted({row.get("timing_warnings") for row in rows if row.get("timing_warnings")})
    )


_CHECK_RE = re.compile(
    r"""^\s*(?P<metric>\w+)\s*:\s*(?P<sign>[+-]?)\s*
    (?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<percent>%?)\s*$""",
    re.VERBOSE,
)
_EXAMPLES = "write METRIC:THRESHOLD such as latency_ms_p50:10%, throughput_ips:-10%, top1:-0.5 or params:0%"


def parse_check(text: str) -> Check:
    """``"latency_ms_p50:10%"`` -> a :class:`TimingCheck`; bad strings raise BenchError."""
    match = _CHECK_RE.match(text or "")
    if match is None:
        raise BenchError(f"bad check {text!r}", _EXAMPLES)
    name = match["metric"]
    metric = METRICS.get(name)
    if metric is None:
        raise BenchError(
            f"unknown metric {name!r} in check {text!r}{suggest(name, METRICS)}",
            "use one of " + ", ".join(METRICS),
        )
    limit = float(match["number"])
    if not math.isfinite(limit):
        raise BenchError(f"threshold in {text!r} is not a finite number", _EXAMPLES)
    sign = match["sign"]
    if sign and limit and sign != metric.worse_sign:
        better, worse = ("higher", "drop") if metric.higher_is_better else ("lower", "rise")
        raise BenchError(
            f"check {text!r} points the wrong way: {better} {name} is better, so a regression is a {worse}",
            f"write {name}:{metric.worse_sign}{match['number']}{match['percent']} "
            f"(or {name}:{match['number']}{match['percent']})",
        )
    threshold: Threshold = PercentThreshold(limit) if match["percent"] else AbsoluteThreshold(limit)
    kind = TimingCheck if metric.timing else HardCheck
    return kind(metric, threshold)


def parse_checks(texts: Sequence[str] | None) -> list[Check]:
    """Parse every ``--fail`` value; none given -> :data:`DEFAULT_CHECKS`; duplicates dropped."""
    checks: list[Check] = []
    for text in texts or DEFAULT_CHECKS:
        check = parse_check(text)
        if check not in checks:
            checks.append(check)
    return checks
