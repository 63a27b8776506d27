"""`bench run --max-drop P`: validated up front, stored in the run configuration the report reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import build_parser, main
from bench.cli.run_cmd import build_config
from bench.errors import EXIT_USAGE
from compress.sensitivity import DEFAULT_MAX_DROP


def _config(tmp_path: Path, *flags: str):
    args = build_parser().parse_args(["run", "--models", "lenet5", "--out", str(tmp_path / "run"), *flags])
    return build_config(args)


def test_max_drop_is_stored_with_the_run(tmp_path: Path) -> None:
    assert _config(tmp_path).to_dict()["max_drop"] is None  # plain int8; the report picks within 0.5
    assert DEFAULT_MAX_DROP == 0.5
    assert _config(tmp_path, "--max-drop", "1.25").to_dict()["max_drop"] == 1.25
    assert _config(tmp_path, "--max-drop", "0").max_drop == 0.0


@pytest.mark.parametrize("value", ["-0.1", "nan", "inf"])
def test_bad_max_drop_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    out = tmp_path / "run"
    assert main(["run", "--models", "lenet5", "--out", str(out), "--max-drop", value]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "--max-drop must be a number of top-1 points >= 0" in captured.err
    assert not out.exists()


FAST = ["--prune", "none", "--quantize", "none", "--epochs", "1", "--threads", "1", "--device", "cpu"]
FAST += ["--batch-sizes", "1", "--warmup", "1", "--warmup-time", "0", "--min-iters", "2", "--min-time", "0"]


def test_a_damaged_cached_baseline_is_retrained_with_a_notice_or_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flip_exponent_bits
) -> None:
    import json

    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["run", "--models", "lenet5", *FAST, *cache, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    (path,) = (tmp_path / "cache" / "checkpoints").glob("lenet5-*.pt")
    flip_exponent_bits(path)
    stop = ["--damaged-cache", "stop", "--out", str(tmp_path / "b")]
    assert main(["run", "--models", "lenet5", *FAST, *cache, *stop]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"bench run: error: checkpoint {path} is damaged: its tensors do not match the digest written when it "
        f"was saved; rerun with --retrain, or delete {path}"
    )
    assert main(["run", "--models", "lenet5", *FAST, *cache, "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "is damaged" in line] == [
        f"lenet5: checkpoint {path} is damaged: its tensors do not match the digest written when it was saved: "
        "training it again"
    ]
    rows = json.loads((tmp_path / "c" / "results.json").read_text())["rows"]
    first = json.loads((tmp_path / "a" / "results.json").read_text())["rows"]
    assert [r["weights"] for r in rows] == ["trained"] and rows[0]["top1"] == first[0]["top1"]


def test_augment_and_hflip_are_part_of_the_resume_check(tmp_path: Path) -> None:
    from bench.runner.config import resume_differences

    stored = _config(tmp_path).to_dict()
    assert stored["augment"] is None and stored["hflip"] is None
    changed = _config(tmp_path, "--augment", "none", "--no-hflip").to_dict()
    assert resume_differences(stored, changed) == ["augment none -> 'none'", "hflip none -> False"]
    assert resume_differences(stored, _config(tmp_path, "--damaged-cache", "stop").to_dict()) == []


def test_a_latency_goal_runs_as_a_variant_with_its_measured_speedup_and_widths(tmp_path: Path) -> None:
    """bench run on lenet5/digits with --prune-target speedup:1.5: pruned-1.5x is searched on the
    run's device, fine-tuned, evaluated and timed like pruned-50, and int8 goes on top of it."""
    import json

    timing = ["--warmup", "1", "--warmup-time", "0.05", "--min-iters", "10", "--min-time", "0.2"]
    flags = ["--prune", "none", "--prune-target", "speedup:1.5", "--quantize", "int8", "--epochs", "1"]
    flags += ["--threads", "1", "--device", "cpu", "--batch-sizes", "1", *timing]
    out = tmp_path / "run"
    assert main(["run", "--models", "lenet5", *flags, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]) == 0
    rows = {row["variant"]: row for row in json.loads((out / "results.json").read_text())["rows"]}
    assert list(rows) == ["baseline", "pruned-1.5x", "int8", "pruned-1.5x+int8"]
    searched, on_top = rows["pruned-1.5x"], rows["pruned-1.5x+int8"]
    assert searched["status"] == "ok" and searched["prune_target"] == "speedup:1.5"
    assert searched["prune_speedup_measured"] > 0 and searched["prune_search_batch"] == 1
    assert searched["top1"] is not None and searched["top1_before_finetune"] is not None  # fine-tuned, evaluated
    assert searched["params"] < rows["baseline"]["params"]
    assert set(json.loads(searched["prune_widths"])) == {"features.0", "features.3", "features.6"}
    assert on_top["precision"] == "int8" and on_top["prune_widths"] == searched["prune_widths"]
    assert list((tmp_path / "cache" / "latency").glob("lenet5-1x32x32-b1-cpu-*.json"))
    assert list((tmp_path / "cache" / "pruned").glob("*-t1.5x-l1-*.pt"))
    report = (out / "report.md").read_text()
    assert "speedup goal (x)" in report and "| pruned-1.5x |" in report
