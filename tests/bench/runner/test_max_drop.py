"""`bench run --max-drop P` builds int8 within P points: rows list the float layers, resumes keep P."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from bench.results.results_file import read_results
from bench.results.store import ResultStore
from bench.runner.session import INT8_SEARCH

FAST = ["--batch-sizes", "1", "--warmup", "1", "--warmup-time", "0", "--min-iters", "3", "--min-time", "0.01"]


def _argv(model: str, weights: Path, out: Path, max_drop: str, *extra: str) -> list[str]:
    return ["run", "--models", model, "--weights", str(weights), "--input-size", "8", "--prune", "none",
            "--max-drop", max_drop, "--out", str(out), *FAST, *extra]  # fmt: skip


def _rows(out: Path) -> dict[str, dict]:
    return {row["variant"]: row for row in read_results(out).rows}


def test_int8_stays_within_max_drop_with_the_culprit_float_and_resumes_keep_it(
    outlier_model: str, outlier_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_argv(outlier_model, outlier_weights, out, "2")) == 0
    rows = _rows(out)
    base, int8 = rows["baseline"], rows["int8"]
    assert base["float_layers"] is None and base["top1"] > 80.0
    assert int8["status"] == "ok" and "conv2" in int8["float_layers"].split(",")
    assert int8["top1"] > base["top1"] - 5.0  # on the test split, which chose nothing
    with ResultStore(out, create=False) as store:
        search = store.artifacts(INT8_SEARCH)[outlier_model, "int8"]
    assert search["met"] and search["max_drop"] == 2.0 and search["reference_top1"] - search["int8_top1"] > 20.0
    assert ",".join(search["float_layers"]) == int8["float_layers"]

    capsys.readouterr()
    assert main(_argv(outlier_model, outlier_weights, out, "3", "--resume")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_drop 2.0 -> 3.0" in err
    assert main(_argv(outlier_model, outlier_weights, out, "2", "--resume")) == 0  # the same budget resumes


def test_a_large_max_drop_measures_full_int8(outlier_model: str, outlier_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(_argv(outlier_model, outlier_weights, out, "99", "--quantize", "int8")) == 0
    int8 = _rows(out)["int8"]
    assert int8["float_layers"] == "" and int8["top1"] < 30.0  # the outlier wrecks full int8: nothing kept float
