"""`bench tune`: the ranked table or JSON-only stdout, the saved recipe, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.training.tune import load_recipe

FAST = ["--grid", "epochs=1", "--threads", "1", "--device", "cpu"]


def test_json_ranks_the_trials_and_names_the_saved_best_recipe(capsys, tmp_path: Path) -> None:
    out = tmp_path / "best.json"
    argv = ["tune", "lenet5", "--grid", "lr=0.0001,0.005", *FAST, "--out", str(out), "--format", "json"]
    assert main(argv) == EXIT_OK
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout holds the JSON and nothing else
    assert report["recipe_file"] == str(out) and report["score"] == "val_top1"
    scores = [t["val_top1"] for t in report["trials"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2
    assert report["best"]["params"] == {"lr": 0.005, "epochs": 1}
    assert load_recipe(out).to_dict() == report["best"]["recipe"]
    assert "trial 1: lr=0.0001 epochs=1" in captured.err  # progress went to stderr


def test_the_table_defaults_to_tune_model_dataset_json(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "lenet5", "--grid", "optimizer=adam", *FAST]) == EXIT_OK
    table = capsys.readouterr().out
    assert "val top-1" in table and "adamw" in table and "tune/lenet5-digits.json" in table
    assert "--grid optimizer=adam also runs" in table
    assert load_recipe(tmp_path / "tune" / "lenet5-digits.json").optimizer == "adamw"
    assert not (tmp_path / "checkpoints").exists()  # trials are not cached


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tune", "lenet5", "--grid", "lr_rate=0.1"], "unknown grid key 'lr_rate' (did you mean lr"),
        (["tune", "lenet5", "--grid", "lr=-1"], "--grid lr: -1 is out of range"),
        (["tune", "lenet5"], "no --grid given"),
        (["tune", "lenet6", "--grid", "lr=0.1"], "unknown model 'lenet6'"),
        (["tune", "lenet5", "--grid", "lr=0.1", "--dataset", "synthetic"], "synthetic has no labels"),
        (["tune", "lenet5", "--grid", "lr=0.1", "--preset", "fast"], "unknown preset 'fast'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len([line for line in captured.err.splitlines() if "error" in line]) == 1
    assert captured.out == ""
