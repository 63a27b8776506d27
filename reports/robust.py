"""Distribution-free intervals for a timing change: what `bench compare` decides with.

Timings on a shared machine are heavy-tailed (most calls fast, a tenth preempted), so a
normal-theory standard error taken from p90 or the std overstates the median's uncertainty
many times over. Here the uncertainty comes from the samples themselves:

* :func:`ratio_interval`: a seeded percentile bootstrap of ``stat(NEW) / stat(BASE)``, the two
  sample sets resampled independently :data:`RESAMPLES` times. For a quantile statistic
  (min, p25, median, p75, p90, p99) a resample's value is drawn exactly without building the
  resample: the k-th smallest of n draws from the samples is the samples' quantile function at
  the k-th smallest of n uniforms, which is Beta(k, n + 1 - k) distributed; so each resample
  costs one Beta draw, whatever n is. The mean is bootstrapped by resampling (in chunks, to
  bound memory); past :data:`MEAN_RESAMPLE_LIMIT` samples its bootstrap distribution is, by the
  central limit theorem, the normal one with the samples' standard error, which is drawn
  instead. Throughput (batch / mean latency) has the reciprocal interval of the mean's.
* :func:`iqr_interval`: the fallback for rows without samples (files written before samples
  were kept): the median's standard error estimated from the interquartile range,
  ``IQR / sqrt(n)`` (half the samples lie in the IQR, so the density at the median is about
  ``0.5 / IQR`` and the asymptotic ``1 / (2 f sqrt(n))`` becomes ``IQR / sqrt(n)``), the two
  runs' relative errors added in quadrature, ``+-`` :data:`Z` of them. It never uses p90 or
  the std. Every timing metric without samples gets the median's relative interval.

Both return the interval of the *relative* change, ``NEW / BASE - 1``, as fractions. The
generator is seeded (:data:`SEED`), so the same two files always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES = 2000
SEED = 20_240_612
LEVEL = 0.95
Z = 1.959964  # two-sided 95% of the normal, for the IQR fallback
_CHUNK_ELEMENTS = 2_000_000  # mean bootstrap: resampled values held at once
MEAN_RESAMPLE_LIMIT = 2000  # more samples than this: the mean's replicates come from the CLT

# The quantile (percent) each latency field is; the mean and throughput are handled apart.
QUANTILE_OF: dict[str, float] = {
    "latency_ms_min": 0.0,
    "latency_ms_p25": 25.0,
    "latency_ms_p50": 50.0,
    "latency_ms_p75": 75.0,
    "latency_ms_p90": 90.0,
    "latency_ms_p99": 99.0,
}
MEAN = "latency_ms_mean"
THROUGHPUT = "throughput_ips"
SUPPORTED = frozenset(QUANTILE_OF) | {MEAN, THROUGHPUT}


@dataclass(frozen=True)
class Interval:
    """A confidence interval of a relative change (fractions of BASE) and how it was found."""

    low: float
    high: float
    method: str  # "bootstrap" or "iqr"
    level: float = LEVEL

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "method": self.method, "level": self.level}


def statistic(metric: str, samples: np.ndarray) -> float:
    """The value of latency ``metric`` over ``samples`` (ms); throughput is per batch of 1."""
    if metric in QUANTILE_OF:
        return float(np.percentile(samples, QUANTILE_OF[metric]))
    mean = float(np.mean(samples))
    if metric == MEAN:
        return mean
    if metric == THROUGHPUT:
        return 1e3 / mean if mean > 0 else math.inf
    raise KeyError(f"no sample statistic for {metric!r}")


def _quantile_draws(samples: np.ndarray, q: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` bootstrap replicates of the samples' q-th percentile (see the module docstring)."""
    ordered = np.sort(samples)
    n = len(ordered)
    k = (n - 1) * q / 100.0 + 1.0  # 1-based rank of the percentile (numpy's linear rule)
    uniforms = rng.beta(k, n + 1.0 - k, size=size)
    index = np.clip(np.ceil(uniforms * n).astype(np.int64) - 1, 0, n - 1)
    return ordered[index]


def _mean_draws(samples: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    n = len(samples)
    if n > MEAN_RESAMPLE_LIMIT:
        spread = float(np.std(samples)) / np.sqrt(n)
        return float(np.mean(samples)) + spread * rng.standard_normal(size)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    parts = []
    for start in range(0, size, chunk):
        rows = min(chunk, size - start)
        parts.append(samples[rng.integers(0, n, size=(rows, n))].mean(axis=1))
    return np.concatenate(parts)


def _draws(metric: str) -> Callable[[np.ndarray, np.random.Generator, int], np.ndarray]:
    if metric in QUANTILE_OF:
        q = QUANTILE_OF[metric]
        return lambda samples, rng, size: _quantile_draws(samples, q, rng, size)
    return _mean_draws


def ratio_interval(
    metric: str,
    base: np.ndarray,
    new: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval:
    """Percentile-bootstrap interval of ``stat(new) / stat(base) - 1`` for latency ``metric``."""
    rng = np.random.default_rng(seed)
    draw = _draws(MEAN if metric == THROUGHPUT else metric)
    base_draws = draw(np.asarray(base, dtype=float), rng, resamples)
    new_draws = draw(np.asarray(new, dtype=float), rng, resamples)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = new_draws / base_draws if metric != THROUGHPUT else base_draws / new_draws
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return Interval(-math.inf, math.inf, "bootstrap", level)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return Interval(float(low) - 1.0, float(high) - 1.0, "bootstrap", level)


def iqr_relative_error(row: dict[str, Any]) -> float | None:
    """The median's relative standard error from the row's IQR and iteration count (or None)."""
    p25, p50, p75 = (row.get(f"latency_ms_p{q}") for q in (25, 50, 75))
    iterations = row.get("iterations")
    if None in (p25, p50, p75) or not iterations or p50 <= 0 or p75 < p25:
        return None
    return (p75 - p25) / (p50 * math.sqrt(iterations))


def iqr_interval(relative: float, base_row: dict[str, Any], new_row: dict[str, Any]) -> Interval | None:
    """``relative +- Z * sqrt(e_base^2 + e_new^2)`` (module docstring); None without IQRs."""
    errors = [iqr_relative_error(row) for row in (base_row, new_row)]
    if any(error is None for error in errors):
        return None
    half = Z * math.hypot(*errors)
    return Interval(relative - half, relative + half, "iqr")


def pooled(sample_sets: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Several runs' samples as one baseline distribution; None when any run has none."""
    if not sample_sets or any(s is None or not len(s) for s in sample_sets):
        return None
    return np.concatenate([np.asarray(s, dtype=float) for s in sample_sets])
