from __future__ import annotations

import json

import pytest
import torch

from bench.cli import common, profile_cmd
from bench.cli.main import main
from bench.errors import BenchError
from bench.results.schema import FIELD_NAMES

QUICK = ["--device", "cpu", "--warmup", "1", "--warmup-time", "0", "--min-iters", "2", "--min-time", "0"]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["profile", *args, *QUICK, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_output_has_run_environment_and_schema_rows(capsys: pytest.CaptureFixture[str]) -> None:
    before = torch.get_num_threads()
    payload = run_json(capsys, "lenet5", "--batch-sizes", "1,3", "--threads", "1")
    assert {"created", "argv", "git_commit", "torch", "cpu_model", "cpu_threads", "gpu_name"} <= set(payload["run"])
    rows = payload["rows"]
    assert [r["batch_size"] for r in rows] == [1, 3]
    for row in rows:
        assert set(row) == set(FIELD_NAMES)
        assert (row["model"], row["variant"], row["dataset"]) == ("lenet5", "baseline", "digits")
        assert row["input_size"] == "1x32x32"
        assert (row["params"], row["macs"], row["threads"], row["status"]) == (61_706, 416_520, 1, "ok")
        assert row["family"] == "lenet" and row["weights"] == "untrained"
    assert torch.get_num_threads() == before


def test_dataset_and_input_size_set_the_shape_and_classes(capsys: pytest.CaptureFixture[str]) -> None:
    row = run_json(capsys, "lenet5", "--dataset", "cifar100", "--input-size", "36")["rows"][0]
    assert (row["input_size"], row["num_classes"], row["dataset"]) == ("3x36x36", 100, "cifar100")


def test_table_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.stdout, "width", 200)  # a wide terminal: no wrapped cells
    assert main(["profile", "lenet5", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "1x32x32" in out and "416.52K" in out
    assert "fp32" in out and "cpu" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lenet"], "did you mean lenet5"),
        (["lenet5", "--batch-sizes", "1,x"], "bad batch size"),
        (["lenet5", "--batch-sizes", "0"], "must be positive"),
        (["lenet5", "--precision", "fp64"], "unknown precision"),
        (["lenet5", "--precision", "int8"], "--quantize int8"),
        (["lenet5", "--precision", "fp16", "--device", "cpu"], "fp16"),
        (["lenet5", "--threads", "0"], "--threads must be positive"),
        (["lenet5", "--dataset", "cifar11"], "unknown data set"),
        (["lenet5", "--prune", "1.5"], "between 0 and 1"),
        (["lenet5", "--prune", "half"], "not a number"),
        (["lenet5", "--quantize", "int4"], "not a supported quantization"),
        (["lenet5", "--quantize", "int8", "--engine", "tpu"], "quantized engine 'tpu' is not supported"),
        (["lenet5", "--prune", "0.5", "--importance", "magic"], "unknown pruning criterion"),
        (["lenet5", "--min-iters", "0"], "timing iterations"),
        (["lenet5", "--num-classes", "0"], "--num-classes must be positive"),
        (["lenet5", "--input-size", "0"], "--input-size must be positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["profile", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "lenet5", "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_pruned_variants_are_profiled_next_to_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "lenet5", "--prune", "0.5")["rows"]
    assert [r["variant"] for r in rows] == ["baseline", "pruned-50"]
    baseline, pruned = rows
    assert pruned["prune_ratio"] == 0.5 and pruned["importance"] and pruned["status"] == "ok"
    assert pruned["params"] < baseline["params"] and pruned["macs"] < baseline["macs"]


def test_int8_what_ifs_run_on_the_cpu_with_the_float_macs(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "lenet5", "--prune", "0.5", "--quantize", "int8")["rows"]
    by_variant = {r["variant"]: r for r in rows}
    assert list(by_variant) == ["baseline", "pruned-50", "int8", "pruned-50+int8"]
    for name in ("int8", "pruned-50+int8"):
        row = by_variant[name]
        assert row["status"] == "ok" and row["precision"] == "int8" and row["device"] == "cpu"
        assert row["quant_engine"] == "x86" and row["calibration"] == "512 random inputs"
        assert row["weights"] == "untrained"
    assert by_variant["int8"]["macs"] == by_variant["baseline"]["macs"]
    assert by_variant["pruned-50+int8"]["macs"] == by_variant["pruned-50"]["macs"]
    assert by_variant["int8"]["size_mb"] < by_variant["baseline"]["size_mb"] / 3


def test_a_variant_that_cannot_be_built_is_a_failed_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = profile_cmd.build_variant

    def build(name, variant, **kwargs):
        if variant.is_pruned:
            raise BenchError("cannot prune this model", "try another")
        return real(name, variant, **kwargs)

    monkeypatch.setattr(profile_cmd, "build_variant", build)
    rows = run_json(capsys, "lenet5", "--prune", "0.5")["rows"]
    assert [(r["variant"], r["status"]) for r in rows] == [("baseline", "ok"), ("pruned-50", "failed")]
    assert rows[1]["error"] == "cannot prune this model; try another"


def test_max_drop_on_untrained_weights_says_so_and_keeps_full_int8(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "lenet5", "--quantize", "int8", "--max-drop", "0.5", *QUICK, "--format", "json"]) == 0
    captured = capsys.readouterr()
    rows = {r["variant"]: r for r in json.loads(captured.out)["rows"]}
    assert rows["int8"]["float_layers"] == "" and rows["baseline"]["float_layers"] is None
    assert "--max-drop 0.5: bench profile measures untrained weights" in captured.err


def test_speedups_over_the_baseline_come_from_interleaved_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    payload = run_json(capsys, "lenet5", "--prune", "0.5", "--quantize", "int8")
    speedups = payload["speedups"]
    assert [(s["variant"], s["reference"]) for s in speedups] == [
        ("pruned-50", "baseline"), ("int8", "baseline"), ("pruned-50+int8", "baseline")
    ]  # fmt: skip
    for item in speedups:
        assert item["low"] <= item["speedup"] <= item["high"] and item["rounds"] == 5 and item["batch_size"] == 1
    assert run_json(capsys, "lenet5")["speedups"] == []  # nothing to compare with


def test_a_latency_goal_profiles_a_searched_variant_with_its_measured_speedup(
    capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on the real CPU timer: pruned-1.5x is searched, measured and profiled; its rows
    record the goal, the speedup the search measured and the widths the model really has. A
    second run reads the latency table from the cache."""
    monkeypatch.setenv("CNNBENCH_CACHE_DIR", str(tmp_path))
    timing = ["--device", "cpu", "--threads", "1", "--min-iters", "10", "--min-time", "0.2", "--warmup-time", "0.05"]
    assert main(["profile", "lenet5", "--prune-target", "speedup:1.5", *timing, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {row["variant"]: row for row in payload["rows"]}
    assert set(rows) == {"baseline", "pruned-1.5x"}
    row = rows["pruned-1.5x"]
    assert row["status"] == "ok" and row["prune_target"] == "speedup:1.5" and row["prune_search_batch"] == 1
    assert row["prune_speedup_measured"] > 0  # measured by the search; may miss the goal on a busy machine
    widths = json.loads(row["prune_widths"])
    assert set(widths) == {"features.0", "features.3", "features.6"}
    assert row["params"] < rows["baseline"]["params"]  # narrowed to the widths recorded
    assert widths["features.3"] < 16 or widths["features.6"] < 120 or widths["features.0"] < 6
    (speedup,) = payload["speedups"]
    assert speedup["variant"] == "pruned-1.5x"  # timed again against the baseline, apart from the search
    (table,) = (tmp_path / "latency").iterdir()
    assert table.name.startswith("lenet5-1x32x32-b1-cpu-")
    stamp = table.stat().st_mtime_ns
    assert main(["profile", "lenet5", "--prune-target", "latency:0.666667", *timing, "--format", "json"]) == 0
    again = {row["variant"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert "pruned-1.5x" in again and table.stat().st_mtime_ns == stamp  # same goal name; table read, not rewritten
