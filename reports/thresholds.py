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
Counts, sizes and accuracy on a fixed seed do not move between identical runs, so their
checks are hard gates (:class:`HardCheck`). Timing is noisy, so a :class:`TimingCheck`
fails only when the change exceeds the threshold *and* lies outside the spread both runs
measured. The rule (:func:`noise_band`): each run's statistic (its median, mean, p90 or
p99) is known to within ``NOISE_Z`` standard errors; the standard error comes from the
run's spread and iteration count, ``factor * sigma / sqrt(iterations)``, where ``sigma`` is
estimated robustly from the stored percentiles, ``(p90 - p50) / 1.2816`` (falling back to
the stored std, then to ``(p99 - p50) / 2.3263``) and ``factor`` is the asymptotic standard
error of that statistic for normal samples (1 for the mean, 1.2533 for the median, 1.7094
for p90, 3.7335 for p99). A change is outside the noise when the two runs' intervals
``value +- band`` do not overlap, i.e. ``|new - base| > band_base + band_new``. A row
without iteration counts counts as one iteration (the band is then the run's whole
spread); a row without any spread is judged on the threshold alone. Throughput inherits the
relative band of the latency it was computed from (``latency_ms_mean``).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from statistics import NormalDist
from typing import Any

from bench.errors import BenchError, suggest

NOISE_Z = 3.0  # standard errors on each side of a run's timing statistic
_EPS = 1e-12  # float slack so that a drop of exactly the threshold does not fail

# `bench compare` and `bench run --baseline` use these when no --fail is given: the
# deterministic figures gated hard, accuracy to half a point, latency only past 25%.
DEFAULT_CHECKS: tuple[str, ...] = ("params:0%", "macs:0%", "top1:-0.5", "latency_ms_p50:25%")


@dataclass(frozen=True)
class Metric:
    """A result field that can be checked, and which way is worse."""

    name: str
    higher_is_better: bool
    unit: str
    timing: bool = False  # noisy: judged against both runs' spread

    @property
    def worse_sign(self) -> str:
        return "-" if self.higher_is_better else "+"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("latency_ms_mean", False, "ms", timing=True),
        Metric("latency_ms_p50", False, "ms", timing=True),
        Metric("latency_ms_p90", False, "ms", timing=True),
        Metric("latency_ms_p99", False, "ms", timing=True),
        Metric("throughput_ips", True, "images/s", timing=True),
        Metric("params", False, "parameters"),
        Metric("trainable_params", False, "parameters"),
        Metric("macs", False, "MACs"),
        Metric("flops", False, "FLOPs"),
        Metric("size_mb", False, "MiB"),
        Metric("peak_mem_mb", False, "MiB"),
        Metric("top1", True, "points"),
        Metric("top5", True, "points"),
    )
}


class Verdict(str, Enum):
    OK = "ok"  # within the threshold
    IMPROVED = "improved"  # better by more than the threshold (and, for timing, than the noise)
    NOISE = "noise"  # worse than the threshold, but inside both runs' spread
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
    noise: float | None = None  # band_base + band_new in the metric's unit (timing only)

    @property
    def regressed(self) -> bool:
        return self.verdict is Verdict.REGRESSION

    def explain(self) -> str:
        """One line for a human: what moved, by how much, and why it (does not) fail."""
        if self.verdict is Verdict.MISSING:
            side = "BASE" if self.base is None else "NEW"
            return f"{self.metric} not measured in {side}"
        values = f"{format_value(self.base)} -> {format_value(self.new)}"
        text = f"{self.metric} {values} ({_percent(self.relative)}; limit {self.check})"
        if self.noise is not None:
            where = "inside" if abs(self.new - self.base) <= self.noise else "outside"
            text += f", {where} the noise band +-{self.noise:.3g} {METRICS[self.metric].unit}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "metric": self.metric,
            "base": self.base,
            "new": self.new,
            "relative": self.relative,
            "noise": self.noise,
            "verdict": self.verdict.value,
        }


def format_value(value: float | None) -> str:
    """61706.0 -> '61,706'; 0.123456 -> '0.1235': counts with separators, others to 4 digits."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def _percent(fraction: float) -> str:
    if math.isinf(fraction):
        return "+inf%" if fraction > 0 else "-inf%"
    return f"{fraction * 100:+.1f}%"


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
    """A metric and its threshold; subclasses decide what counts as noise."""

    metric: Metric
    threshold: Threshold

    @property
    def spec(self) -> str:
        """The canonical string, the sign pointing the worse way: ``top1:-0.5``."""
        sign = self.metric.worse_sign if self.threshold.limit else ""
        return f"{self.metric.name}:{sign}{self.threshold.text()}"

    def noise(self, base_row: dict[str, Any], new_row: dict[str, Any]) -> float | None:
        """The width within which a change is noise (metric units); None = no noise allowance."""
        return None

    def evaluate(self, base_row: dict[str, Any], new_row: dict[str, Any]) -> CheckOutcome:
        name = self.metric.name
        base, new = base_row.get(name), new_row.get(name)
        if base is None or new is None:
            return CheckOutcome(self.spec, name, base, new, Verdict.MISSING)
        base, new = float(base), float(new)
        delta = new - base
        worsening = -delta if self.metric.higher_is_better else delta
        amount = self.threshold.amount(worsening, base)
        noise = self.noise(base_row, new_row)
        outside_noise = noise is None or abs(delta) > noise
        slack = self.threshold.limit + _EPS * max(1.0, abs(self.threshold.limit))
        if amount > slack:
            verdict = Verdict.REGRESSION if outside_noise else Verdict.NOISE
        elif -amount > slack and outside_noise:
            verdict = Verdict.IMPROVED
        else:
            verdict = Verdict.OK
        if base:
            relative = delta / abs(base)
        else:
            relative = 0.0 if delta == 0 else math.copysign(math.inf, delta)
        return CheckOutcome(self.spec, name, base, new, verdict, relative, noise)


class HardCheck(Check):
    """Deterministic metrics (params, MACs, size, accuracy on a fixed seed): any excess fails."""


class TimingCheck(Check):
    """Latency and throughput: fails only outside both runs' noise band (module docstring)."""

    def noise(self, base_row: dict[str, Any], new_row: dict[str, Any]) -> float | None:
        bands = [noise_band(row, self.metric.name) for row in (base_row, new_row)]
        if any(band is None for band in bands):
            return None
        return bands[0] + bands[1]


_NORMAL = NormalDist()
_Z90 = _NORMAL.inv_cdf(0.90)
_Z99 = _NORMAL.inv_cdf(0.99)


def _quantile_se_factor(q: float) -> float:
    """Asymptotic standard error of a sample quantile of normal data, in sigma / sqrt(n)."""
    return math.sqrt(q * (1 - q)) / _NORMAL.pdf(_NORMAL.inv_cdf(q))


# The latency statistic whose band a metric uses, and that statistic's standard-error factor.
_SE_FACTORS: dict[str, float] = {
    "latency_ms_mean": 1.0,
    "latency_ms_p50": _quantile_se_factor(0.50),
    "latency_ms_p90": _quantile_se_factor(0.90),
    "latency_ms_p99": _quantile_se_factor(0.99),
}
_THROUGHPUT_SOURCE = "latency_ms_mean"  # the profiler's throughput = batch_size / mean latency


def latency_sigma(row: dict[str, Any]) -> float | None:
    """A robust per-iteration standard deviation (ms) from the row's stored spread."""
    fields = ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_std")
    p50, p90, p99, std = (row.get(name) for name in fields)
    if p50 is not None and p90 is not None and p90 >= p50:
        return (p90 - p50) / _Z90
    if std is not None:
        return float(std)
    if p50 is not None and p99 is not None and p99 >= p50:
        return (p99 - p50) / _Z99
    return None


def noise_band(row: dict[str, Any], metric: str) -> float | None:
    """Half-width (metric units) of the interval the row's ``metric`` is known to within."""
    if metric == "throughput_ips":
        throughput, latency = row.get(metric), row.get(_THROUGHPUT_SOURCE)
        band = noise_band(row, _THROUGHPUT_SOURCE)
        if band is None or throughput is None or not latency:
            return None
        return float(throughput) * band / float(latency)
    sigma = latency_sigma(row)
    if sigma is None:
        return None
    iterations = max(int(row.get("iterations") or 1), 1)
    return NOISE_Z * _SE_FACTORS[metric] * sigma / math.sqrt(iterations)


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
