"""`bench run --norm`: each normalization trained and measured like a variant, side by side in the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.results.results_file import read_results

# One epoch at 16x16 and short timing: these tests check the plumbing, not the figures.
FAST = [
    "--epochs",
    "1",
    "--input-size",
    "16",
    "--threads",
    "1",
    "--prune",
    "none",
    "--quantize",
    "none",
    "--batch-sizes",
    "1",
    "--warmup",
    "1",
    "--warmup-time",
    "0",
    "--min-iters",
    "3",
    "--min-time",
    "0.02",
]


def test_a_study_trains_each_norm_and_reports_it_beside_the_baseline(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["run", "--models", "resnet20", "--norm", "bn,gn", "--out", str(out), "--cache-dir", str(tmp_path)]
    assert main([*argv, *FAST]) == EXIT_OK
    results = read_results(out)
    rows = {row["variant"]: row for row in results.rows}
    assert set(rows) == {"baseline", "norm-gn"} and all(row["status"] == "ok" for row in rows.values())
    base, gn = rows["baseline"], rows["norm-gn"]
    assert gn["weights"] == "trained" and gn["top1"] is not None and gn["latency_ms_p50"] > 0
    assert gn["params"] == base["params"] and gn["macs"] == base["macs"]  # GN has BN's affine parameters
    assert gn["size_mb"] < base["size_mb"]  # but no running statistics
    assert results.run["config"]["norms"] == ["bn", "gn"]
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[1].startswith("resnet20-gn-digits-")

    report = (out / "report.md").read_text()
    compression = report[report.index("#### resnet20") :]
    assert "| baseline |" in compression and "| norm-gn |" in compression


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "resnet20,lenet5", "--norm", "bn,gn"], "--norm gn: lenet5 has no normalization layers to swap"),
        (["--models", "resnet20", "--norm", "bn,foo"], "--norm 'foo' is not a normalization"),
        (["--models", "resnet18", "--norm", "gn,in"], "--norm in would normalize single values in resnet18"),
        (["--models", "resnet20", "--norm", "gn", "--weights", "pretrained"], "--norm studies train every"),
        (["--models", "resnet20", "--freeze", "2"], "--freeze 2 needs weights to start from"),
        (["--models", "resnet20,lenet5", "--weights", "w.pt", "--freeze", "1"], "holds one model's weights"),
        (["--models", "vgg11", "--dropout", "1.5"], "--dropout 1.5 is out of range"),
    ],
)
def test_bad_study_input_is_one_line_and_exit_2_with_nothing_written(
    tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    out = tmp_path / "run"
    assert main(["run", *argv, "--out", str(out)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not out.exists()
