"""`bench report RUN_DIR`: rebuilds the report and the exports; bad directories are one-line errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.results.results_file import read_results
from bench.results.schema import make_row
from bench.results.store import RESULTS_DB, ResultStore


def _store_one_row(run_dir: Path) -> None:
    where = {"model": "lenet5", "variant": "baseline", "dataset": "digits", "input_size": "1x32x32", "device": "cpu"}
    row = make_row(**where, precision="fp32", batch_size=1, params=61706, latency_ms_p50=0.25)
    with ResultStore(run_dir) as store:
        store.set_run_info({"argv": ["bench", "run", "--models", "lenet5"]})
        store.commit_cell("lenet5|baseline", [row])


def test_report_rebuilds_report_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store_one_row(tmp_path)
    assert main(["report", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.strip() == str(tmp_path / "report.md")
    assert "| lenet5 | 61,706 |" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert [r["params"] for r in read_results(tmp_path).rows] == [61706]
    assert (tmp_path / "results.csv").read_text(encoding="utf-8").startswith("model,variant,")


def _no_db(tmp_path: Path) -> Path:
    return tmp_path


def _other_schema(tmp_path: Path) -> Path:
    _store_one_row(tmp_path)
    with sqlite3.connect(tmp_path / RESULTS_DB) as db:
        db.execute("UPDATE run SET schema_version = 0")
    db.close()
    return tmp_path


@pytest.mark.parametrize(
    "make_dir, message",
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (_no_db, "has no results.db"),
        (_other_schema, "schema version 0"),
    ],
)
def test_bad_run_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_dir, message: str
) -> None:
    run_dir = make_dir(tmp_path)
    assert main(["report", str(run_dir)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("bench report: error: ")
    assert message in captured.err and "Traceback" not in captured.err
    assert not (run_dir / "report.md").exists()


def test_report_with_a_baseline_adds_the_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    _store_one_row(base)
    _store_one_row(new)
    assert main(["report", str(base)]) == EXIT_OK  # exports base/results.json
    assert main(["report", str(new), "--baseline", str(base)]) == EXIT_OK
    text = (new / "report.md").read_text(encoding="utf-8")
    assert "## cnnbench compare: no regressions (1 rows compared)" in text


@pytest.mark.parametrize(
    "baseline, message",
    [("missing.json", "no results found"), ("not-json.json", "is not readable JSON")],
)
def test_bad_baseline_is_a_one_line_error_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], baseline: str, message: str
) -> None:
    _store_one_row(tmp_path / "run")
    (tmp_path / "not-json.json").write_text("{", encoding="utf-8")
    assert main(["report", str(tmp_path / "run"), "--baseline", str(tmp_path / baseline)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err
    assert not (tmp_path / "run" / "report.md").exists() and not (tmp_path / "run" / "results.json").exists()
