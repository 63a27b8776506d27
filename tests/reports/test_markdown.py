"""report.md: rebuilt from results.db alone, complete (failures, figures), identical on rebuild."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.errors import BenchError
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
