"""`bench run --max-drop P`: validated up front, stored in the run configuration the report reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import build_parser, main
from bench.cli.run_cmd import build_config
from bench.errors import EXIT_USAGE
from bench.runner.config import DEFAULT_MAX_DROP


def _config(tmp_path: Path, *flags: str):
    args = build_parser().parse_args(["run", "--models", "lenet5", "--out", str(tmp_path / "run"), *flags])
    return build_config(args)


def test_max_drop_is_stored_with_the_run(tmp_path: Path) -> None:
    assert _config(tmp_path).to_dict()["max_drop"] == DEFAULT_MAX_DROP == 0.5
    assert _config(tmp_path, "--max-drop", "1.25").to_dict()["max_drop"] == 1.25
    assert _config(tmp_path, "--max-drop", "0").max_drop == 0.0


@pytest.mark.parametrize("value", ["-0.1", "nan", "inf"])
def test_bad_max_drop_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    out = tmp_path / "run"
    assert main(["run", "--models", "lenet5", "--out", str(out), "--max-drop", value]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "--max-drop must be a number of top-1 points >= 0" in captured.err
    assert not out.exists()
