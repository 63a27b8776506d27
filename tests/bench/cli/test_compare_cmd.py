"""`bench compare` on the command line: output formats and the contract's exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli.main import main
from bench.results.results_file import write_results_json
from bench.results.schema import make_row

RUN = {"torch": "2.15.0", "cpu_model": "Test CPU", "cpu_threads": 2, "gpu_name": None, "quantized_engine": "x86"}


def write_run(directory: Path, *, p50: float = 2.0, params: int = 1000, **env: Any) -> Path:
    row = make_row(
        model="resnet20", variant="baseline", dataset="cifar10", input_size="3x32x32", device="cpu",
        precision="fp32", batch_size=1, params=params, macs=40_000_000, top1=91.0,
        latency_ms_p50=p50, latency_ms_p90=p50 * 1.01, latency_ms_std=p50 * 0.008, iterations=100,
    )  # fmt: skip
    write_results_json(directory / "results.json", {**RUN, **env}, [row])
    return directory


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_runs_exit_0_with_a_markdown_table(tmp_path: Path, capsys) -> None:
    base = write_run(tmp_path / "a")
    code, out, err = run_cli(capsys, base, base / "results.json")
    assert code == 0
    assert out.startswith("## cnnbench compare: no regressions")
    assert "| model | variant |" in out and "`params:0%`" in out  # the default checks
    assert "no regressions" in err


def test_regression_exits_1_and_json_names_it(tmp_path: Path, capsys) -> None:
    base, new = write_run(tmp_path / "a"), write_run(tmp_path / "b", p50=2.6)
    code, out, _ = run_cli(capsys, base, new, "--fail", "latency_ms_p50:10%", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert [r["label"] for r in data["regressions"]] == ["resnet20/baseline cifar10 3x32x32 cpu fp32 bs=1"]
    code, out, _ = run_cli(capsys, base, new, "--fail", "latency_ms_p50:50%", "--fail", "params:0%")
    assert code == 0


@pytest.mark.parametrize("case", ["missing", "schema", "threshold", "environment"])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys, case: str) -> None:
    base, new = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    extra: list[str] = []
    if case == "missing":
        new = tmp_path / "nowhere"
    elif case == "schema":
        payload = json.loads((new / "results.json").read_text())
        (new / "results.json").write_text(json.dumps({**payload, "schema_version": 99}))
    elif case == "threshold":
        extra = ["--fail", "latency_ms_p50:-10%"]
    else:
        write_run(new, cpu_model="Other CPU")
    code, out, err = run_cli(capsys, base, new, *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if case == "environment":
        assert "cpu_model 'Test CPU' vs 'Other CPU'" in err
        assert run_cli(capsys, base, new, "--allow-env-mismatch")[0] == 0
