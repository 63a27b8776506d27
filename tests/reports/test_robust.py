"""The distribution-free intervals behind timing verdicts (reports.robust's docstring)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.robust import iqr_interval, pooled, ratio_interval, statistic


def test_the_quantile_bootstrap_matches_a_plain_resampling_bootstrap() -> None:
    rng = np.random.default_rng(0)
    base = rng.lognormal(0.0, 0.3, 150)
    new = rng.lognormal(0.1, 0.3, 150)
    fast = ratio_interval("latency_ms_p50", base, new)
    draws = np.random.default_rng(1)
    plain = [
        np.median(new[draws.integers(0, 150, 150)]) / np.median(base[draws.integers(0, 150, 150)]) - 1
        for _ in range(4000)
    ]
    low, high = np.percentile(plain, [2.5, 97.5])
    assert fast.low == pytest.approx(low, abs=0.02) and fast.high == pytest.approx(high, abs=0.02)
    assert fast.method == "bootstrap" and fast.excludes_zero() == (low > 0 or high < 0)


def test_intervals_are_seeded_and_cover_the_true_ratio() -> None:
    rng = np.random.default_rng(2)
    base, new = rng.normal(1.0, 0.05, 400), rng.normal(1.25, 0.05, 400)
    for metric in ("latency_ms_p50", "latency_ms_mean", "latency_ms_p90", "latency_ms_min"):
        first, again = ratio_interval(metric, base, new), ratio_interval(metric, base, new)
        assert first == again
    mean = ratio_interval("latency_ms_mean", base, new)
    assert mean.low < 0.25 < mean.high and mean.low > 0.2
    throughput = ratio_interval("throughput_ips", base, new)
    assert throughput.low < 1 / 1.25 - 1 < throughput.high < 0


def test_a_heavy_tail_does_not_hide_a_shift_of_the_median() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.281, 0.004, 166)
    base[rng.random(166) < 0.1] += 40.0
    interval = ratio_interval("latency_ms_p50", base, base * 1.5)
    assert 0.4 < interval.low < interval.high < 0.6


def test_iqr_fallback_and_pooling() -> None:
    row = {"latency_ms_p25": 0.9, "latency_ms_p50": 1.0, "latency_ms_p75": 1.1, "iterations": 100}
    interval = iqr_interval(0.3, row, row)
    assert interval.method == "iqr"
    assert interval.high - 0.3 == pytest.approx(1.959964 * math.hypot(0.02, 0.02))
    assert iqr_interval(0.3, row, {"latency_ms_p50": 1.0, "latency_ms_p90": 5.0}) is None
    assert pooled([np.ones(3), np.zeros(2)]).tolist() == [1, 1, 1, 0, 0] and pooled([np.ones(3), None]) is None
    assert statistic("throughput_ips", np.array([2.0, 2.0])) == 500.0


def test_the_mean_of_many_samples_uses_the_normal_limit_of_its_bootstrap() -> None:
    rng = np.random.default_rng(4)
    base, new = rng.normal(1.0, 0.1, 5000), rng.normal(1.02, 0.1, 5000)
    interval = ratio_interval("latency_ms_mean", base, new)
    se = math.hypot(0.1 / math.sqrt(5000), 0.1 / math.sqrt(5000))
    assert interval.high - interval.low == pytest.approx(2 * 1.96 * se, rel=0.15)
