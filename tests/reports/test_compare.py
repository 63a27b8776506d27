"""`bench compare` logic: threshold parsing, row matching, sample-based timing verdicts, environments."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.results.results_file import ResultSet, read_results, write_results_json
from bench.results.schema import make_row
from reports.compare import EnvironmentMismatch, compare_results
from reports.thresholds import (
    DEFAULT_CHECKS,
    AbsoluteThreshold,
    HardCheck,
    PercentThreshold,
    TimingCheck,
    Verdict,
    parse_check,
    parse_checks,
)

ENV = {
    "created": "2025-01-01T00:00:00+00:00",
    "git_commit": "0123456789abcdef",
    "torch": "2.15.0",
    "cpu_model": "Test CPU 3000",
    "cpu_threads": 2,
    "gpu_name": None,
    "quantized_engine": "x86",
}


def timed_row(p50: float = 1.0, *, rel_spread: float = 0.02, iterations: int = 200, **fields: Any) -> dict[str, Any]:
    """A measured lenet5 row without samples (an older file): ``p90 = p50 * (1 + rel_spread)``
    and an IQR of ``p50 * rel_spread``."""
    values: dict[str, Any] = {
        "model": "lenet5",
        "variant": "baseline",
        "dataset": "digits",
        "input_size": "1x32x32",
        "device": "cpu",
        "precision": "fp32",
        "batch_size": 1,
        "params": 61_706,
        "macs": 416_520,
        "size_mb": 0.24,
        "top1": 98.0,
        "latency_ms_mean": p50 * (1 + rel_spread / 4),
        "latency_ms_p25": p50 * (1 - rel_spread / 2),
        "latency_ms_p50": p50,
        "latency_ms_p75": p50 * (1 + rel_spread / 2),
        "latency_ms_p90": p50 * (1 + rel_spread),
        "latency_ms_p99": p50 * (1 + 3 * rel_spread),
        "latency_ms_std": p50 * rel_spread / 1.2816,
        "iterations": iterations,
    }
    values["throughput_ips"] = 1e3 / values["latency_ms_mean"]
    values.update(fields)
    return make_row(**values)


def result_set(tmp_path: Path, name: str, rows: list[dict[str, Any]], **env: Any) -> ResultSet:
    """Rows written to and read back from a real results.json, as `bench compare` sees them."""
    write_results_json(tmp_path / name / "results.json", {**ENV, **env}, rows)
    return read_results(tmp_path / name)


def compare(tmp_path: Path, base_rows, new_rows, checks=DEFAULT_CHECKS, **kwargs):
    base = result_set(tmp_path, "base", base_rows)
    new = result_set(tmp_path, "new", new_rows, **kwargs.pop("new_env", {}))
    return compare_results(base, new, parse_checks(list(checks)), **kwargs)


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "threshold", "spec"),
    [
        ("latency_ms_p50:10%", TimingCheck, PercentThreshold(10.0), "latency_ms_p50:+10%"),
        ("latency_ms_p50:+10%", TimingCheck, PercentThreshold(10.0), "latency_ms_p50:+10%"),
        ("throughput_ips:-10%", TimingCheck, PercentThreshold(10.0), "throughput_ips:-10%"),
        ("throughput_ips:10%", TimingCheck, PercentThreshold(10.0), "throughput_ips:-10%"),
        ("top1:-0.5", HardCheck, AbsoluteThreshold(0.5), "top1:-0.5"),
        ("params:0%", HardCheck, PercentThreshold(0.0), "params:0%"),
        (" macs : -0% ", HardCheck, PercentThreshold(0.0), "macs:0%"),
        ("size_mb:1e-3", HardCheck, AbsoluteThreshold(0.001), "size_mb:+0.001"),
    ],
)
def test_parse_check_reads_metric_threshold_and_sign(text, kind, threshold, spec) -> None:
    check = parse_check(text)
    assert type(check) is kind
    assert check.threshold == threshold
    assert check.spec == spec


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("latency_ms_p50", "bad check"),
        ("latency_ms_p50:ten%", "bad check"),
        ("", "bad check"),
        ("latency:10%", "did you mean"),
        ("accuracy:-1", "unknown metric"),
        ("latency_ms_p50:-10%", "lower latency_ms_p50 is better"),
        ("throughput_ips:+10%", "higher throughput_ips is better"),
        ("top1:+0.5", "write top1:-0.5"),
    ],
)
def test_parse_check_rejects_bad_strings_with_a_fix(text, fragment) -> None:
    with pytest.raises(BenchError) as error:
        parse_check(text)
    assert fragment in str(error.value)
    assert error.value.fix


def test_parse_checks_defaults_and_deduplicates() -> None:
    assert [c.spec for c in parse_checks(None)] == [parse_check(t).spec for t in DEFAULT_CHECKS]
    assert len(parse_checks(["params:0%", "params:-0%", "params:0%"])) == 1


# --- the timing rule (reports.thresholds' docstring) -----------------------------------------


def test_iqr_fallback_follows_the_documented_rule() -> None:
    """Rows without samples: change +- 1.96 * sqrt(e_base^2 + e_new^2), e = IQR / (p50 sqrt(n))."""
    check = parse_check("latency_ms_p50:10%")
    base, new = timed_row(1.0, rel_spread=0.2, iterations=100), timed_row(1.15, rel_spread=0.2, iterations=100)
    outcome = check.evaluate(base, new)
    half = 1.959964 * math.hypot(0.2 / 10, 0.2 * 1.15 / (1.15 * 10))
    assert outcome.interval.method == "iqr"
    assert (outcome.interval.low, outcome.interval.high) == pytest.approx((0.15 - half, 0.15 + half))
    assert outcome.verdict is Verdict.REGRESSION  # +15% past 10%, interval above 0
    # p90 and std never widen it: the same IQR with a huge tail gives the same interval
    tail = check.evaluate(timed_row(1.0, rel_spread=0.2, iterations=100, latency_ms_p90=50.0, latency_ms_std=30.0), new)
    assert tail.interval == outcome.interval
    # without p25/p75 (the oldest files) the threshold alone decides
    bare = {k: v for k, v in base.items() if k not in ("latency_ms_p25", "latency_ms_p75")}
    assert check.evaluate(bare, new).interval is None and check.evaluate(bare, new).regressed


def samples_row(samples: np.ndarray, **fields: Any) -> dict[str, Any]:
    """A row as the profiler writes it: figures and samples from the same iterations."""
    values = {key: value for key, value in timed_row().items() if not key.startswith("latency")}
    values.update(
        latency_ms_p50=float(np.median(samples)),
        latency_ms_p25=float(np.percentile(samples, 25)),
        latency_ms_p75=float(np.percentile(samples, 75)),
        latency_ms_p90=float(np.percentile(samples, 90)),
        latency_ms_mean=float(np.mean(samples)),
        iterations=len(samples),
        throughput_ips=1e3 / float(np.mean(samples)),
        latency_samples_ms=[float(v) for v in samples],
    )
    values.update(fields)
    return make_row(**values)


def heavy_tailed(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """The issue's loaded machine: most calls 0.28 ms, a tenth preempted by up to ~70 ms."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.281, 0.004, n)
    preempted = rng.random(n) < 0.1
    values[preempted] += rng.exponential(15.0, preempted.sum())
    return values * scale


def test_heavy_tailed_slowdown_is_caught_with_its_interval(tmp_path: Path) -> None:
    """Issue 12: p50 0.281 ms, p90 ~10 ms, 166 iterations; NEW 1.5x. The old band called it noise."""
    base = samples_row(heavy_tailed(166, 1))
    slowed = samples_row(heavy_tailed(166, 1, 1.5))
    result = compare(tmp_path, [base], [slowed], ["latency_ms_p50:10%"])
    [regression] = result.regressions
    assert "+50.0%, 95% CI +" in regression.detail and "excludes no change" in regression.detail
    outcome = result.rows[0].outcomes[0]
    assert outcome.interval.method == "bootstrap" and 0.4 < outcome.interval.low < 0.5 < outcome.interval.high < 0.6
    again = compare(tmp_path, [base], [samples_row(heavy_tailed(166, 2))], ["latency_ms_p50:10%"])
    assert again.exit_code == 0 and again.rows[0].outcomes[0].verdict is Verdict.OK


def test_same_files_give_the_same_verdict_and_interval(tmp_path: Path) -> None:
    base, new = samples_row(heavy_tailed(200, 3)), samples_row(heavy_tailed(200, 4, 1.12))
    first = compare(tmp_path, [base], [new], ["latency_ms_p50:10%", "throughput_ips:-10%"]).to_dict()
    second = compare(tmp_path, [base], [new], ["latency_ms_p50:10%", "throughput_ips:-10%"]).to_dict()
    assert first["rows"] == second["rows"]


def test_throughput_interval_derives_from_the_latency_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    base = samples_row(rng.normal(2.0, 0.05, 300))
    slow = samples_row(rng.normal(3.0, 0.05, 300))
    result = compare(tmp_path, [base], [slow], ["throughput_ips:-10%"])
    outcome = result.rows[0].outcomes[0]
    assert outcome.regressed and outcome.interval.method == "bootstrap"
    assert outcome.interval.low < outcome.relative < outcome.interval.high < 0  # throughput fell by ~1/3
    assert outcome.relative == pytest.approx(2.0 / 3.0 - 1, abs=0.02)


def test_unstable_rows_show_unstable_instead_of_ok(tmp_path: Path) -> None:
    warning = "unstable: the medians of 5 timing blocks differ by 30% of the median"
    result = compare(tmp_path, [timed_row()], [timed_row(timing_warnings=warning)], ["latency_ms_p50:10%"])
    outcome = result.rows[0].outcomes[0]
    assert outcome.verdict is Verdict.UNSTABLE and result.exit_code == 0
    markdown = result.to_markdown()
    assert "unstable |" in markdown.split("### Unstable timings")[0]  # the status column
    assert "NEW unstable: the medians" in markdown.split("### Unstable timings")[1]
    assert result.to_dict()["rows"][0]["timing_warnings"].startswith("NEW unstable")
    assert "NEW unstable: the medians" in outcome.explain()


def test_several_baselines_pool_their_samples(tmp_path: Path) -> None:
    bases = [samples_row(heavy_tailed(100, seed)) for seed in (10, 11, 12)]
    sets = [result_set(tmp_path, f"base{i}", [row], created=f"2025-01-0{i + 1}") for i, row in enumerate(bases)]
    new = result_set(tmp_path, "new", [samples_row(heavy_tailed(100, 13, 1.3))])
    result = compare_results(sets, new, parse_checks(["latency_ms_p50:10%", "params:0%"]))
    [regression] = result.regressions
    pooled_median = float(np.median(np.concatenate([heavy_tailed(100, s) for s in (10, 11, 12)])))
    outcome = result.rows[0].outcomes[0]
    assert outcome.base == pytest.approx(pooled_median, rel=2e-3)  # results.json's quantiles: 4 digits
    assert result.base_paths == [s.path for s in sets] and "pooled with 2 earlier" in result.to_markdown()
    assert result.to_dict()["baselines"] == [str(s.path) for s in sets]


# --- acceptance ---------------------------------------------------------------------------


def test_identical_pair_is_clean(tmp_path: Path) -> None:
    rows = [timed_row(), timed_row(8.0, batch_size=32)]
    result = compare(tmp_path, rows, rows)
    assert result.exit_code == 0
    assert result.regressions == []
    assert len(result.rows) == 2 and not result.only_in_base and not result.only_in_new
    assert {o.verdict for row in result.rows for o in row.outcomes} == {Verdict.OK}


def test_slowdown_beyond_both_spreads_fails_and_names_the_row(tmp_path: Path) -> None:
    result = compare(tmp_path, [timed_row(1.0)], [timed_row(1.3)], ["latency_ms_p50:10%"])
    assert result.exit_code == 1
    [regression] = result.regressions
    assert regression.check == "latency_ms_p50:+10%"
    assert "lenet5/baseline digits 1x32x32 cpu fp32 bs=1" in str(regression)
    assert "+30.0%" in regression.detail and "excludes no change" in regression.detail
    assert "lenet5/baseline" in result.to_markdown().split("### Regressions")[1]


def test_slowdown_inside_the_noise_band_does_not_fail(tmp_path: Path) -> None:
    # an IQR as wide as the median over 5 iterations: a 30% move of the median is not significant
    base, new = timed_row(1.0, rel_spread=1.0, iterations=5), timed_row(1.3, rel_spread=1.0, iterations=5)
    result = compare(tmp_path, [base], [new], ["latency_ms_p50:10%", "throughput_ips:-10%"])
    assert result.exit_code == 0
    assert [o.verdict for o in result.rows[0].outcomes] == [Verdict.NOISE, Verdict.NOISE]
    assert "noise" in result.to_markdown()


def test_throughput_drop_fails(tmp_path: Path) -> None:
    result = compare(tmp_path, [timed_row(1.0)], [timed_row(1.5)], ["throughput_ips:-10%"])
    assert [r.check for r in result.regressions] == ["throughput_ips:-10%"]


def test_params_change_fails_under_params_0_percent(tmp_path: Path) -> None:
    grown = compare(tmp_path, [timed_row()], [timed_row(params=61_707)], ["params:0%"])
    assert grown.exit_code == 1 and grown.regressions[0].check == "params:0%"
    shrunk = compare(tmp_path, [timed_row()], [timed_row(params=30_000)], ["params:0%"])
    assert shrunk.exit_code == 0 and shrunk.rows[0].outcomes[0].verdict is Verdict.IMPROVED


def test_accuracy_is_gated_in_absolute_points(tmp_path: Path) -> None:
    at_limit = compare(tmp_path, [timed_row(top1=98.0)], [timed_row(top1=97.5)], ["top1:-0.5"])
    assert at_limit.exit_code == 0
    past_limit = compare(tmp_path, [timed_row(top1=98.0)], [timed_row(top1=97.4)], ["top1:-0.5"])
    assert past_limit.exit_code == 1


def test_environment_mismatch_is_refused_with_its_reasons(tmp_path: Path) -> None:
    new_env = {"torch": "2.16.0", "cpu_threads": 8}
    with pytest.raises(EnvironmentMismatch) as error:
        compare(tmp_path, [timed_row()], [timed_row()], new_env=new_env)
    assert {d.field for d in error.value.differences} == {"torch", "cpu_threads"}
    assert "torch '2.15.0' vs '2.16.0'" in str(error.value) and "--allow-env-mismatch" in str(error.value)
    allowed = compare(tmp_path, [timed_row()], [timed_row()], new_env=new_env, allow_env_mismatch=True)
    assert allowed.exit_code == 0
    assert "Environments differ" in allowed.to_markdown()


def test_unmatched_rows_are_listed_not_ignored(tmp_path: Path) -> None:
    base = [timed_row(), timed_row(batch_size=32)]
    new = [timed_row(), timed_row(variant="int8", precision="int8")]
    result = compare(tmp_path, base, new)
    assert [key["batch_size"] for key in result.only_in_base] == [32]
    assert [key["variant"] for key in result.only_in_new] == ["int8"]
    markdown = result.to_markdown()
    assert "Only in BASE" in markdown and "bs=32" in markdown and "lenet5/int8" in markdown


def test_a_cell_that_breaks_is_a_regression_and_failed_rows_are_reported(tmp_path: Path) -> None:
    failed = {"status": "failed", "error": "CUDA out of memory | try a smaller batch"}
    broke = compare(tmp_path, [timed_row()], [timed_row(**failed)])
    assert [r.check for r in broke.regressions] == ["status"]
    assert "out of memory" in broke.regressions[0].detail
    assert "\\|" in broke.to_markdown()  # the error's pipe cannot break the table
    still_failing = compare(tmp_path, [timed_row(**failed)], [timed_row(**failed)])
    assert still_failing.exit_code == 0
    assert "Not ok" in still_failing.to_markdown()


def test_unmeasured_metric_is_not_a_regression(tmp_path: Path) -> None:
    result = compare(tmp_path, [timed_row(top1=98.0)], [timed_row(top1=None)], ["top1:-0.5"])
    assert result.exit_code == 0 and result.rows[0].outcomes[0].verdict is Verdict.MISSING


def test_runs_without_a_common_row_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no row of"):
        compare(tmp_path, [timed_row()], [timed_row(dataset="cifar10")])


def test_to_dict_is_plain_json(tmp_path: Path) -> None:
    result = compare(tmp_path, [timed_row(1.0)], [timed_row(1.3, params=70_000)])
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["exit_code"] == 1
    assert {r["check"] for r in data["regressions"]} == {"params:0%", "latency_ms_p50:+25%"}
    outcome = data["rows"][0]["outcomes"][0]
    assert outcome["verdict"] == "REGRESSION" and math.isclose(outcome["relative"], 70_000 / 61_706 - 1)


# --- end to end: real measurements ----------------------------------------------------------


class SleepyLeNet(torch.nn.Module):
    """Test-only model: LeNet-5 whose forward also sleeps, so only its latency regresses."""

    def __init__(self, inner: torch.nn.Module, sleep_s: float) -> None:
        super().__init__()
        self.inner, self.sleep_s = inner, sleep_s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.sleep_s)
        return self.inner(x)


def test_real_runs_compare_clean_and_a_slowed_model_is_caught(tmp_path: Path) -> None:
    from bench.profiling.environment import collect_environment
    from bench.profiling.profiler import ProfileOptions, profile_model
    from bench.profiling.timing import TimingConfig
    from bench.zoo import create_model

    # One thread: on a shared CPU a 2-thread op stalls whenever either thread is descheduled.
    timing = TimingConfig(warmup_iters=5, warmup_s=0.05, min_iters=30, min_time_s=0.25)
    options = ProfileOptions(batch_sizes=[1], threads=1, timing=timing)
    key = {"model": "lenet5", "variant": "baseline", "dataset": "synthetic"}
    lenet = create_model("lenet5", num_classes=10, in_chans=1, input_size=32)
    environment = collect_environment(argv=["pytest"])

    def run(name: str, model: torch.nn.Module) -> ResultSet:
        rows = profile_model(model, input_shape=(1, 32, 32), options=options, base_row=key)
        write_results_json(tmp_path / name / "results.json", environment, rows)
        return read_results(tmp_path / name)

    base, again, slowed = run("base", lenet), run("again", lenet), run("slowed", SleepyLeNet(lenet, 0.002))
    # The fastest call is what load barely moves (a 0.3 ms forward pass mostly runs inside one
    # time slice); the median of a run on a loaded 2-core machine can double between runs.
    checks = parse_checks(["params:0%", "macs:0%", "latency_ms_min:50%"])
    clean = compare_results(base, again, checks)
    assert clean.exit_code == 0, clean.to_markdown()
    caught = compare_results(base, slowed, checks)
    assert [r.check for r in caught.regressions] == ["latency_ms_min:+50%"], caught.to_markdown()
    # the 2 ms sleep is far outside any interval the median's samples allow
    median = parse_check("latency_ms_p50:25%").evaluate(base.rows[0], slowed.rows[0])
    assert median.regressed and median.interval.method == "bootstrap", median.explain()


def test_rows_timed_on_other_hardware_are_refused_even_when_the_runs_look_alike(tmp_path: Path) -> None:
    """Under --executor ray one run's rows can come from several hosts: device_name is checked per row."""
    base = [timed_row(device_name="Intel Xeon A")]
    new = [timed_row(device_name="AMD EPYC B")]
    with pytest.raises(EnvironmentMismatch) as error:
        compare(tmp_path, base, new)
    assert [d.field for d in error.value.differences] == ["device_name of lenet5/baseline digits 1x32x32 cpu fp32 bs=1"]
    assert compare(tmp_path, base, new, allow_env_mismatch=True).exit_code == 0
    assert compare(tmp_path, base, [timed_row(device_name="Intel Xeon A")]).exit_code == 0
