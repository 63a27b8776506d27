"""report.md: rebuilt from results.db alone, complete (failures, figures), identical on rebuild."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.results.results_file import ResultSet, read_results
from bench.results.schema import make_row
from bench.results.store import EVALUATION, HISTORY, Artifact, ResultStore
from reports.markdown import FIGURES, write_report

RUN_INFO = {
    "created": "2025-03-04T05:06:07+00:00",
    "argv": ["/usr/local/bin/bench", "run", "--models", "lenet5,resnet20", "--out", "runs/x"],
    "git_commit": "0123abcd",
    "python": "3.11.7",
    "torch": "2.15.0",
    "torchvision": "0.29.0",
    "cuda": None,
    "cpu_model": "Test CPU @ 2.0GHz",
    "cpu_threads": 2,
    "gpu_name": None,
    "quantized_engine": "x86",
    "tf32_matmul": False,
    "config": {"models": ["lenet5", "resnet20"], "prune": [0.5], "quantize": "int8"},
}

ENVIRONMENT_LINES = [  # (label, value) lines of the environment and configuration tables
    ("git commit", "0123abcd"),
    ("CPU", "Test CPU @ 2.0GHz"),
    ("CPU threads", "2"),
    ("quantized engine", "x86"),
    ("torch", "2.15.0"),
    ("GPU", "-"),
    ("tf32_matmul", "False"),  # keys the report does not know are shown too
    ("prune", "[0.5]"),
]


def _row(model: str, variant: str, batch_size: int, p50: float | None, **values) -> dict:
    where = {"model": model, "variant": variant, "dataset": "digits", "input_size": "1x32x32", "device": "cpu"}
    precision = "int8" if variant == "int8" else "fp32"
    return make_row(**where, precision=precision, threads=2, batch_size=batch_size, latency_ms_p50=p50, **values)


def _cell(model: str, variant: str, scale: float, top1: float | None) -> tuple[list[dict], list[Artifact]]:
    facts = {"params": int(60_000 * scale), "macs": int(400_000 * scale), "size_mb": 0.24 * scale, "top1": top1}
    rows = [_row(model, variant, b, 0.5 * b * scale, throughput_ips=2000.0 / scale, **facts) for b in (1, 32)]
    if top1 is None:
        return rows, []
    history = [
        {"epoch": e, "train_loss": 1 / e, "train_top1": 80.0 + e, "val_loss": 1.1 / e, "val_top1": 79.0 + e}
        for e in (1, 2, 3)
    ]
    confusion = [[9, 1, 0], [0, 10, 0], [1, 0, 9]]
    evaluation = {"top1": top1, "n": 30, "class_names": ["a", "b", "c"], "confusion": confusion, "per_class": []}
    return rows, [Artifact(HISTORY, model, variant, history), Artifact(EVALUATION, model, variant, evaluation)]


def _write_run(run_dir: Path, *, with_accuracy: bool = True) -> None:
    with ResultStore(run_dir) as store:
        store.set_run_info(RUN_INFO)
        for model in ("lenet5", "resnet20"):
            for variant, scale, top1 in (("baseline", 1.0, 98.0), ("pruned-50", 0.5, 97.0), ("int8", 0.9, 97.5)):
                rows, artifacts = _cell(model, variant, scale, top1 if with_accuracy else None)
                store.commit_cell(f"{model}|{variant}", rows, artifacts)
        failed = _row("vgg11", "baseline", 1, None, status="failed", error="RuntimeError: CUDA out of memory")
        store.commit_cell("vgg11|baseline", [failed])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("run")
    _write_run(run_dir)
    path = write_report(run_dir)
    return path, path.read_text(encoding="utf-8")


def test_header_says_what_ran_when_and_on_what(report: tuple[Path, str]) -> None:
    _, text = report
    assert "`bench run --models lenet5,resnet20 --out runs/x`" in text
    assert "2025-03-04T05:06:07+00:00" in text
    for label, value in ENVIRONMENT_LINES:
        assert f"| {label} | {value} |" in text


def test_tables_carry_the_numbers_of_the_rows(report: tuple[Path, str]) -> None:
    _, text = report
    assert "| model | params | MACs (1x32x32) |" in text
    assert "| lenet5 | 60,000 | 400,000 | 0.24 | 98.0 |" in text
    assert "#### lenet5" in text and "#### resnet20" in text and "#### vgg11" not in text
    # pruned-50: half the latency at every batch size -> speedup 2.00, and params / 2
    assert re.search(r"\| pruned-50 \| 97\.0 \| -1\.00 \| 2\.00 \| 2\.00 \| 2\.00 \| 2\.00 \| 2\.00 \|", text)


def test_failures_are_listed_with_their_errors(report: tuple[Path, str]) -> None:
    _, text = report
    failures = text.split("## Failures", 1)[1].split("## Figures", 1)[0]
    assert "| vgg11 | baseline | cpu | 1 | failed | RuntimeError: CUDA out of memory |" in failures
    assert "13 rows over 3 models: 12 ok, 1 failed, 0 skipped." in text


def test_every_figure_is_embedded_and_exists(report: tuple[Path, str]) -> None:
    path, text = report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == sorted(f"figures/{spec.filename}" for spec in FIGURES)
    for link in links:
        assert (path.parent / link).read_bytes()[:4] == b"\x89PNG"


def test_rebuild_from_the_same_db_is_identical(report: tuple[Path, str]) -> None:
    path, text = report
    figures = {p.name: p.read_bytes() for p in (path.parent / "figures").iterdir()}
    assert write_report(path.parent) == path
    assert path.read_text(encoding="utf-8") == text
    assert {p.name: p.read_bytes() for p in (path.parent / "figures").iterdir()} == figures


def test_speed_only_run_explains_missing_figures_and_drops_stale_ones(tmp_path: Path) -> None:
    _write_run(tmp_path)
    write_report(tmp_path)
    assert (tmp_path / "figures" / "training_curves.png").exists()
    with ResultStore(tmp_path) as store:  # the same run without accuracy, as on synthetic data
        for model in ("lenet5", "resnet20"):
            for variant in ("baseline", "pruned-50", "int8"):
                rows, artifacts = _cell(model, variant, 1.0, None)
                store.commit_cell(f"{model}|{variant}", rows, artifacts)
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "_Not drawn: no row has both a top-1 and a latency" in text
    assert "_Not drawn: no training history was stored" in text
    assert "_Not drawn: no evaluation with a confusion matrix was stored" in text
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["params_vs_macs.png", "speedup.png"]


def test_an_empty_store_still_gives_a_report(tmp_path: Path) -> None:
    ResultStore(tmp_path).close()
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "No environment was recorded" in text and "No baseline row finished." in text
    assert "None: every row is ok." in text


def test_missing_run_directory_is_a_bench_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        write_report(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def _sections(text: str) -> list[str]:
    return [line[3:] for line in text.splitlines() if line.startswith("## ")]


def test_the_answer_comes_first_and_the_environment_last(report: tuple[Path, str]) -> None:
    _, text = report
    assert _sections(text) == [
        "Summary",
        "Results",
        "Failures",
        "Figures",
        "Appendix: environment and configuration",
    ]
    appendix = text.split("## Appendix: environment and configuration", 1)[1]
    for label, value in ENVIRONMENT_LINES:  # complete, and only there
        assert f"| {label} | {value} |" in appendix
    assert "| quantize | int8 |" in appendix and "schema version 1" in appendix


def test_summary_names_the_fastest_variant_within_the_budget(report: tuple[Path, str]) -> None:
    _, text = report
    summary = text.split("## Summary", 1)[1].split("## Results", 1)[0]
    assert (
        "at most **0.5 points** below its baseline's (`--max-drop 0.5`, the default; the run stored no budget)"
        in summary
    )
    # int8 loses exactly 0.5 points at 0.9x the latency; pruned-50 is faster but loses 1 point
    assert "| lenet5 | cpu | 1 / 32 | int8 | int8 | eager | 97.5 | -0.50 | 1.11 / 1.11 | 1.11 |" in summary
    assert "| resnet20 | cpu | 1 / 32 | int8 |" in summary
    assert (
        "**Failures**: 1 of 13 rows not ok (1 failed): vgg11 baseline cpu b1 (RuntimeError: CUDA out of memory)."
        in summary
    )
    assert "**Slower than eager fp32**: none" in summary
    assert "No pick for vgg11: no ok baseline row in eager fp32." in summary


def test_the_budget_stored_with_the_run_is_used(tmp_path: Path) -> None:
    _write_run(tmp_path)
    with ResultStore(tmp_path) as store:
        store.set_run_info({**RUN_INFO, "config": {**RUN_INFO["config"], "max_drop": 1.5}})
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "(`--max-drop 1.5`, as stored with the run)" in text
    assert "| lenet5 | cpu | 1 / 32 | pruned-50 | fp32 | eager | 97.0 | -1.00 | 2.00 / 2.00 | 2.00 |" in text


def test_speed_only_summary_says_the_pick_is_by_speed_alone(tmp_path: Path) -> None:
    _write_run(tmp_path, with_accuracy=False)
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "the pick per model, device and batch size is the fastest variant by speed alone" in text
    assert "| lenet5 | cpu | 1 / 32 | pruned-50 | fp32 | eager | - | speed only | 2.00 / 2.00 | 2.00 |" in text


def test_int8_slower_than_float_is_flagged_in_summary_and_table(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.set_run_info(RUN_INFO)
        for variant, scale in (("baseline", 1.0), ("int8", 1.4)):
            rows, _ = _cell("lenet5", variant, scale, 98.0)
            store.commit_cell(f"lenet5|{variant}", rows)
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "**Slower than eager fp32**: 2 rows: lenet5 int8 cpu b1 (0.71x), lenet5 int8 cpu b32 (0.71x)" in text
    table = text.split("### Slower than eager fp32", 1)[1].split("## Failures", 1)[0]
    assert "| lenet5 | int8 | int8 | eager | cpu | 1 | 0.70 | baseline | 0.50 | 0.71 |" in table
    assert "| lenet5 | cpu | 1 / 32 | baseline | fp32 | eager |" in text


def _baseline_run(tmp_path: Path, slower: float) -> ResultSet:
    """The same run with every latency ``slower`` times, exported as a baseline file."""
    base_dir = tmp_path / "base"
    _write_run(base_dir)
    with ResultStore(base_dir) as store:
        rows = store.rows()
        for row in rows:
            if row["latency_ms_p50"]:
                row["latency_ms_p50"] *= slower
        for cell in {f"{r['model']}|{r['variant']}" for r in rows}:
            store.commit_cell(cell, [r for r in rows if f"{r['model']}|{r['variant']}" == cell])
        store.export()
    return read_results(base_dir)


def test_a_baseline_adds_the_comparison_table_and_figure_and_leaves_no_stale_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "new"
    _write_run(run_dir)
    text = write_report(run_dir, baseline=_baseline_run(tmp_path, 1.5)).read_text(encoding="utf-8")
    section = text.split("## cnnbench compare:", 1)[1].split("## Failures", 1)[0]
    assert "| lenet5 | baseline | digits | 1x32x32 | cpu | fp32 | 1 |" in section
    assert "![Change from the baseline run](figures/change_vs_baseline.png)" in section
    assert (run_dir / "figures" / "change_vs_baseline.png").read_bytes()[:4] == b"\x89PNG"
    assert "Environments differ" not in section
    write_report(run_dir)  # without a baseline: no comparison, and its figure is gone
    assert "cnnbench compare" not in (run_dir / "report.md").read_text(encoding="utf-8")
    assert not (run_dir / "figures" / "change_vs_baseline.png").exists()


def test_a_baseline_sharing_no_row_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    run_dir = tmp_path / "new"
    _write_run(run_dir)
    other = ResultSet(run={}, rows=[make_row(model="alexnet", variant="baseline", dataset="cifar10")], path=tmp_path)
    with pytest.raises(BenchError, match="matches a row"):
        write_report(run_dir, baseline=other)
    assert not (run_dir / "report.md").exists() and not (run_dir / "figures").exists()
