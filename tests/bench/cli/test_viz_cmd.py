"""`bench viz`: lenet5 end to end (baseline and pruned+int8), index.md embedding every PNG, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.profiling.profiler import thread_count


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """LeNet on a shared 2-core CPU: one intra-op thread is several times faster than two."""
    with thread_count(1):
        yield


FIGURES = {"training_curves.png", "confusion_matrix.png", "roc.png", "saliency.png", "gradcam.png"}


def viz(tmp_path: Path, out: Path, *args: str, model: str = "lenet5") -> int:
    return main(
        [
            "viz",
            model,
            "--epochs",
            "1",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--device",
            "cpu",
            *args,
        ]
    )


def embedded(index: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", index.read_text())


def test_lenet5_baseline_then_pruned_int8_write_every_figure(capsys, tmp_path: Path) -> None:
    out = tmp_path / "base"
    assert viz(tmp_path, out, "--images", "4") == EXIT_OK
    captured = capsys.readouterr()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert set(pngs) >= FIGURES and any(name.startswith("feature_maps_") for name in pngs)
    assert sorted(embedded(out / "index.md")) == pngs
    assert f"index: {out / 'index.md'}" in captured.out and "test top-1" in captured.out
    assert "lenet5 train epoch 1/1" in captured.err  # trained first, with the progress on stderr

    quant = tmp_path / "quant"
    assert viz(tmp_path, quant, "--images", "2", "--variant", "pruned-50+int8") == EXIT_OK
    captured = capsys.readouterr()
    text = (quant / "index.md").read_text()
    assert "lenet5 (pruned-50+int8)" in text and "show the float model it was quantized from" in text
    assert sorted(embedded(quant / "index.md")) == sorted(p.name for p in quant.glob("*.png"))
    assert "note: int8" in captured.err


def test_resnet20_end_to_end_one_feature_map_per_layer_and_gradcam_on_layer3(capsys, tmp_path: Path) -> None:
    out = tmp_path / "resnet20"
    assert viz(tmp_path, out, "--images", "2", model="resnet20") == EXIT_OK
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert [n for n in pngs if n.startswith("feature_maps_")] == [
        "feature_maps_01_layer1.png",
        "feature_maps_02_layer2.png",
        "feature_maps_03_layer3.png",
    ]
    assert set(pngs) >= FIGURES and sorted(embedded(out / "index.md")) == pngs
    assert "**Grad-CAM layer**: layer3" in (out / "index.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variant", "pruned"], "unknown variant 'pruned'"),
        (["--variant", "pruned-150"], "is out of range"),
        (["--images", "65"], "--images 65 is more than 64"),
        (["--dataset", "synthetic"], "synthetic has no labels"),
        (["--dataset", "mnist"], "no data directory was given"),
        (["--preset", "fast"], "unknown preset 'fast'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path: Path, args: list[str], message: str) -> None:
    assert viz(tmp_path, tmp_path / "out", *args) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len([line for line in captured.err.splitlines() if "error" in line]) == 1
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_an_unknown_model_is_exit_2(capsys) -> None:
    assert main(["viz", "lenet6"]) == EXIT_USAGE
    assert "unknown model 'lenet6' (did you mean lenet5" in capsys.readouterr().err
