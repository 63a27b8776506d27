"""`bench compare` logic: threshold parsing, row matching, noise-aware timing, environments."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.errors import BenchError
from bench.results.results_file import ResultSet, read_results, write_results_json
from bench.results.schema import make_row
from reports.compare import EnvironmentMismatch, compare_results
from reports.thresholds import (
    DEFAULT_CHECKS,
    NOISE_Z,
    AbsoluteThreshold,
    HardCheck,
    PercentThreshold,
    TimingCheck,
    Verdict,
    noise_band,
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
    """A measured lenet5 row whose latency distribution has ``p90 = p50 * (1 + rel_spread)``."""
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
        "latency_ms_p50": p50,
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


# --- the noise band -----------------------------------------------------------------------


def test_noise_band_follows_the_documented_rule() -> None:
    sigma = 0.1
    row = {"latency_ms_p50": 1.0, "latency_ms_p90": 1.0 + 1.2815516 * sigma, "iterations": 100}
    assert noise_band(row, "latency_ms_p50") == pytest.approx(NOISE_Z * 1.2533 * sigma / 10, rel=1e-3)
    assert noise_band(row, "latency_ms_p99") == pytest.approx(NOISE_Z * 3.7335 * sigma / 10, rel=1e-3)
    # std is the fallback when p90 is missing; no iteration count counts as one iteration
    assert noise_band({"latency_ms_std": sigma}, "latency_ms_mean") == pytest.approx(NOISE_Z * sigma)
    assert noise_band({"latency_ms_p50": 1.0}, "latency_ms_p50") is None


def test_throughput_band_is_the_relative_band_of_mean_latency() -> None:
    row = timed_row(2.0, rel_spread=0.1, iterations=25)
    relative = noise_band(row, "latency_ms_mean") / row["latency_ms_mean"]
    assert noise_band(row, "throughput_ips") == pytest.approx(row["throughput_ips"] * relative)


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
    assert "+30.0%" in regression.detail and "outside the noise band" in regression.detail
    assert "lenet5/baseline" in result.to_markdown().split("### Regressions")[1]


def test_slowdown_inside_the_noise_band_does_not_fail(tmp_path: Path) -> None:
    # p90 twice the median over 5 iterations: a 30% move of the median is not significant
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
    checks = parse_checks(["params:0%", "macs:0%", "latency_ms_p50:25%"])
    clean = compare_results(base, again, checks)
    assert clean.exit_code == 0, clean.to_markdown()
    caught = compare_results(base, slowed, checks)
    assert [r.check for r in caught.regressions] == ["latency_ms_p50:+25%"], caught.to_markdown()


def test_rows_timed_on_other_hardware_are_refused_even_when_the_runs_look_alike(tmp_path: Path) -> None:
    """Under --executor ray one run's rows can come from several hosts: device_name is checked per row."""
    base = [timed_row(device_name="Intel Xeon A")]
    new = [timed_row(device_name="AMD EPYC B")]
    with pytest.raises(EnvironmentMismatch) as error:
        compare(tmp_path, base, new)
    assert [d.field for d in error.value.differences] == ["device_name of lenet5/baseline digits 1x32x32 cpu fp32 bs=1"]
    assert compare(tmp_path, base, new, allow_env_mismatch=True).exit_code == 0
    assert compare(tmp_path, base, [timed_row(device_name="Intel Xeon A")]).exit_code == 0
