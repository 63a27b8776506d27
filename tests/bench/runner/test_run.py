"""`bench run` end to end: files, tables, figures, failure isolation, SIGKILL + --resume."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.cli.main import main
from bench.results.results_file import read_results
from bench.results.schema import KEY_FIELDS, row_key
from bench.zoo.registry import ModelSpec, add_spec, remove_spec

# Short timing keeps the suite fast; the figures are not what these tests check.
FAST = ["--batch-sizes", "1,4", "--warmup", "1", "--warmup-time", "0", "--min-iters", "3", "--min-time", "0.02"]
VARIANTS = {"baseline", "pruned-50", "int8", "pruned-50+int8"}
DETERMINISTIC = ("params", "trainable_params", "macs", "flops", "size_mb", "top1", "top5", "status")


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real quick run of lenet5 on digits, shared by the checks below."""
    out = tmp_path_factory.mktemp("run") / "lenet5"
    assert main(["run", "--models", "lenet5", "--out", str(out), *FAST]) == 0
    return out


def test_run_writes_every_file(lenet_run: Path) -> None:
    for name in ("results.db", "results.json", "results.csv", "report.md"):
        assert (lenet_run / name).is_file(), name
    results = read_results(lenet_run)
    assert results.run["config"]["models"] == ["lenet5"]
    assert results.run["torch"] == torch.__version__
    rows = results.rows
    assert {row["variant"] for row in rows} == VARIANTS
    assert len(rows) == len(VARIANTS) * 2  # two batch sizes, CPU only
    assert all(row["status"] == "ok" for row in rows), [row["error"] for row in rows]
    assert len({row_key(row) for row in rows}) == len(rows)
    csv_lines = (lenet_run / "results.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1


def test_rows_hold_accuracy_and_compression(lenet_run: Path) -> None:
    rows = {(r["variant"], r["batch_size"]): r for r in read_results(lenet_run).rows}
    base, pruned, int8 = rows["baseline", 1], rows["pruned-50", 1], rows["int8", 1]
    assert base["top1"] >= 90.0 and base["weights"] in {"trained", "cached"}
    assert base["input_size"] == "1x32x32" and base["num_classes"] == 10
    assert base["params"] == 61_706 and base["macs"] == 416_520 and base["flops"] == 2 * 416_520
    assert pruned["macs"] < base["macs"] and pruned["prune_ratio"] == 0.5
    assert pruned["top1_before_finetune"] is not None and pruned["top1"] is not None
    assert int8["precision"] == "int8" and int8["device"] == "cpu" and int8["quant_engine"]
    assert int8["macs"] == base["macs"], "int8 rows report the float model's MACs"
    assert int8["calibration"].startswith("512 ")
    assert rows["pruned-50+int8", 1]["macs"] == pruned["macs"]


def test_report_has_tables_and_figures(lenet_run: Path) -> None:
    report = (lenet_run / "report.md").read_text()
    assert "bench run --models lenet5" in report
    for heading in ("## Environment", "### Models (baseline)", "### Compression", "## Failures", "## Figures"):
        assert heading in report
    assert "| lenet5 | 61,706 |" in report
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(figures) == 5
    for figure in figures:
        assert (lenet_run / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_rebuilds_identically(lenet_run: Path) -> None:
    before = (lenet_run / "report.md").read_text()
    assert main(["report", str(lenet_run)]) == 0
    assert (lenet_run / "report.md").read_text() == before


def test_existing_run_directory_is_never_overwritten(lenet_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (lenet_run / "results.json").read_bytes()
    assert main(["run", "--models", "lenet5", "--out", str(lenet_run), *FAST]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (lenet_run / "results.json").read_bytes() == before


def test_resume_of_a_finished_run_does_nothing(lenet_run: Path) -> None:
    before = read_results(lenet_run).rows
    assert main(["run", "--models", "lenet5", "--out", str(lenet_run), "--resume", *FAST]) == 0
    assert read_results(lenet_run).rows == before


def test_baseline_comparison_runs_at_the_end(
    lenet_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "again"
    code = main(["run", "--models", "lenet5", "--prune", "none", "--quantize", "none", "--out", str(out),
                 "--baseline", str(lenet_run / "results.json"), *FAST])  # fmt: skip
    printed = capsys.readouterr().out
    # The cached model gives identical params, MACs and top-1: those checks pass on every row.
    assert "| lenet5 | baseline | digits | 1x32x32 | cpu | fp32 | 1 | 61,706 -> 61,706 (+0.0%) ok" in printed
    assert "Only in BASE (not in NEW)" in printed and "pruned-50+int8" in printed
    # The report says the same as the terminal: the comparison table and the change figure.
    report = (out / "report.md").read_text()
    assert "| lenet5 | baseline | digits | 1x32x32 | cpu | fp32 | 1 | 61,706 -> 61,706 (+0.0%) ok" in report
    assert (out / "figures").is_dir() and any(p.name.startswith("change") for p in (out / "figures").iterdir())
    # Timing on a shared CPU may move past the default latency check: then, and only then, exit 1.
    assert code == (1 if "REGRESSION" in printed else 0)


class _Broken(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("deliberately broken forward")


def _broken(*, num_classes: int, in_chans: int, input_size: int) -> nn.Module:
    return _Broken()


@pytest.fixture
def broken_model() -> str:
    spec = ModelSpec(
        name="test_broken",
        family="test",
        year=2026,
        paper="-",
        builder=_broken,
        native_input_size=32,
        min_input_size=1,
        small_input="native",
        small_input_note="",
        classifier=(),
        norm=None,
        groups=("test",),
    )
    add_spec(spec)
    yield spec.name
    remove_spec(spec.name)


def test_a_broken_model_fails_alone(broken_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["run", "--models", f"lenet5,{broken_model}", "--prune", "none", "--out", str(out), *FAST])
    assert code == 1
    rows = read_results(out).rows
    lenet = [r for r in rows if r["model"] == "lenet5"]
    broken = [r for r in rows if r["model"] == broken_model]
    assert lenet and all(r["status"] == "ok" for r in lenet)
    assert {r["status"] for r in broken} == {"failed", "skipped"}
    baseline_errors = {r["error"] for r in broken if r["variant"] == "baseline"}
    assert any("deliberately broken" in e for e in baseline_errors)
    report = (out / "report.md").read_text()
    assert "deliberately broken" in report
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "lenet"], "did you mean"),
        (["--models", "lenet5", "--prune", "1.5"], "between 0 and 1"),
        (["--models", "lenet5", "--quantize", "int4"], "--quantize"),
        (["--models", "lenet5", "--engine", "nope"], "engine"),
        (["--models", "lenet5", "--batch-sizes", "0"], "batch size"),
        (["--models", "lenet5", "--resume"], "--resume needs --out"),
        (["--models", "lenet5", "--dataset", "mnist", "--data-dir", "/nonexistent"], "mnist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", *argv, "--out", str(tmp_path / "x")] if "--resume" not in argv else ["run", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x" / "results.db").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--models", "lenet5", "--device", "cuda", "--out", str(tmp_path / "x")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def _cells_done(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.Error:
        return 0


def _bench(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench", "run", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_rows(lenet_run: Path, tmp_path: Path) -> None:
    """Kill a run with SIGKILL after its first cell; --resume finishes it with the same rows."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "killed"
    proc = _bench(["--models", "lenet5", "--out", str(out), *FAST], env)
    deadline = time.monotonic() + 240
    # A cell is committed to results.db first and exported to results.json just after: wait for both,
    # or a kill between the two leaves no results.json to read yet (the store of record is complete).
    while (
        (_cells_done(out / "results.db") < 1 or not (out / "results.json").exists())
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = json.loads((out / "results.json").read_text())["rows"]
    assert 0 < len(partial) < len(VARIANTS) * 2

    resumed = _bench(["--models", "lenet5", "--out", str(out), "--resume", *FAST], env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]

    finished = read_results(out).rows
    reference = read_results(lenet_run).rows
    assert len({row_key(r) for r in finished}) == len(finished), "a row was written twice"
    assert sorted(row_key(r) for r in finished) == sorted(row_key(r) for r in reference)
    by_key = {row_key(r): r for r in reference}
    for row in finished:
        expected = by_key[row_key(row)]
        assert {f: row[f] for f in DETERMINISTIC} == {f: expected[f] for f in DETERMINISTIC}, row_key(row)
    assert set(KEY_FIELDS) <= set(finished[0])


@pytest.mark.slow
def test_two_runs_started_at_once_on_one_directory_one_is_refused(tmp_path: Path) -> None:
    """The lock is taken before the "already holds a run" check: never two writers, never lost rows."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "raced"
    args = ["--models", "lenet5", "--prune", "none", "--quantize", "none", "--epochs", "1", "--threads", "1"]
    args += ["--cache-dir", str(tmp_path / "cache"), "--out", str(out), *FAST]
    first, second = _bench(args, env), _bench(args, env)
    errs = {proc.pid: proc.communicate(timeout=600)[1].decode() for proc in (first, second)}
    codes = {proc.pid: proc.returncode for proc in (first, second)}
    assert sorted(codes.values()) == [0, 2], errs
    winner = next(pid for pid, code in codes.items() if code == 0)
    refused = next(err for pid, err in errs.items() if codes[pid] == 2).strip()
    assert len(refused.splitlines()) == 1 and "Traceback" not in refused
    # While the winner runs, the loser is told its pid; had it come after the end, the run it left.
    assert f"is being written by bench run (pid {winner})" in refused or "already holds a run" in refused
    rows = read_results(out).rows
    assert len(rows) == 2 and len({row_key(r) for r in rows}) == 2  # baseline at batch sizes 1 and 4, once each
