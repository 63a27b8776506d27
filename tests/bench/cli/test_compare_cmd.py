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


def _edit_row(directory: Path, **fields: Any) -> None:
    """Overwrite fields of the first row of ``directory``'s results.json, as a hand edit would."""
    file = directory / "results.json"
    payload = json.loads(file.read_text())
    payload["rows"][0].update(fields)
    file.write_text(json.dumps(payload))


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        ({"latency_ms_p50": float("nan")}, ["row 0", "'latency_ms_p50'", "not a finite number"]),
        ({"latency_ms_p50": -2.0}, ["row 0", "'latency_ms_p50'", "negative"]),
        ({"latency_ms_p50": "2.0 ms"}, ["'latency_ms_p50'", "expected a number, got str"]),
        ({"batch_size": [1, 2]}, ["'batch_size'", "expected a number, got list"]),
        ({"top1": {"value": 91.0}}, ["'top1'", "expected a number, got dict"]),
        ({"top1": 191.0}, ["'top1'", "over 100"]),
        ({"iterations": 2.5}, ["'iterations'", "expected an integer"]),
        ({"model": None}, ["'model'", "missing"]),
        ({"status": "great"}, ["'status'", "not one of ok, failed, skipped"]),
        ({"latency_quantiles_ms": [1.0, 0.5]}, ["'latency_quantiles_ms'", "101 numbers"]),
        ({"run": None, "extra": 1}, None),  # unknown fields are a newer writer's extras: accepted
    ],
)
def test_bad_values_in_a_results_file_exit_2_naming_file_row_and_field(
    tmp_path: Path, capsys, edit: dict[str, Any], fragments: list[str] | None
) -> None:
    base, new = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    _edit_row(new, **edit)
    code, out, err = run_cli(capsys, base, new)
    if fragments is None:
        assert code == 0, err
        return
    assert code == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(new / "results.json") in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"schema_version": 1, "run": [1, 2], "rows": []}, "'run' is list"),
        ({"schema_version": 1, "run": {}, "rows": {"a": 1}}, "'rows' is dict"),
        ({"schema_version": 1, "run": {}, "rows": [[1, 2]]}, "row 0 is list"),
        ({"schema_version": "1", "run": {}, "rows": []}, "schema version '1'"),
        ({"schema_version": True, "run": {}, "rows": []}, "schema version True"),
        ([1, 2, 3], "not a cnnbench results file"),
    ],
)
def test_malformed_results_files_exit_2(tmp_path: Path, capsys, payload: Any, fragment: str) -> None:
    base = write_run(tmp_path / "a")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    for argv in ((base, bad), (bad, base)):  # as NEW and as BASE
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == "" and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and fragment in err and "bad.json" in err


def test_several_baselines_and_a_folder_of_them(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "baselines"
    for index, p50 in enumerate((2.0, 2.02, 1.98)):
        write_run(folder / f"run{index}", p50=p50, created=f"2025-01-0{index + 1}T00:00:00")
    new = write_run(tmp_path / "new", p50=2.01, created="2025-02-01T00:00:00")
    code, out, _ = run_cli(capsys, folder / "run0", folder / "run1", new, "--format", "json")
    assert code == 0 and json.loads(out)["baselines"] == [str(folder / f"run{i}" / "results.json") for i in (0, 1)]
    code, out, _ = run_cli(capsys, folder, new, "--format", "json")
    assert code == 0 and len(json.loads(out)["baselines"]) == 3
    slow = write_run(tmp_path / "slow", p50=3.0)
    assert run_cli(capsys, folder, slow, "--fail", "latency_ms_p50:10%")[0] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(capsys, empty, new)
    assert code == 2 and "holds no results.json" in err and len(err.strip().splitlines()) == 1


def test_a_latency_that_its_own_samples_contradict_is_refused(tmp_path: Path, capsys) -> None:
    """The issue's experiment on today's files: latency fields scaled 1.5x by hand, samples not."""
    base, new = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    for directory in (base, new):
        _edit_row(directory, latency_quantiles_ms=[2.0] * 101, latency_ms_p90=2.0)
    assert run_cli(capsys, base, new)[0] == 0
    _edit_row(new, latency_ms_p50=3.0)
    code, out, err = run_cli(capsys, base, new)
    assert code == 2 and "'latency_ms_p50': 3.0 disagrees with its samples" in err
