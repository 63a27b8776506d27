"""The viz folder: every figure written, every PNG embedded in index.md by relative path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from bench.data import load_splits
from bench.viz.index import FigureEntry, render_index
from bench.viz.render import default_out_dir, render
from bench.viz.subject import VizSubject
from bench.zoo import create_model
from bench.viz.figures import PlotResult

HISTORY = [
    {"epoch": e, "train_loss": 2.0 / e, "train_top1": 50.0 + e, "val_loss": 2.1 / e, "val_top1": 48.0 + e, "lr": 0.01, "seconds": 1.0}
    for e in (1, 2)
]


@pytest.fixture(scope="module")
def untrained_lenet_subject() -> VizSubject:
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=10, in_chans=1, input_size=32)
    cpu = torch.device("cpu")
    return VizSubject(
        model_name="lenet5",
        dataset="digits",
        variant="baseline",
        model=model,
        float_model=model,
        device=cpu,
        splits=load_splits("digits"),
        histories={("lenet5", "baseline"): HISTORY},
        source="untrained (test)",
    )


def embedded(index: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", index.read_text())


def test_render_writes_every_figure_and_embeds_each_png(untrained_lenet_subject: VizSubject, tmp_path: Path) -> None:
    out = tmp_path / "viz"
    (out).mkdir()
    (out / "feature_maps_09_old.png").write_bytes(b"stale")  # an earlier run's figure
    result = render(untrained_lenet_subject, out, images=3)

    names = {p.name for p in result.written}
    assert {"training_curves.png", "confusion_matrix.png", "roc.png", "misclassified.png", "saliency.png", "gradcam.png"} <= names
    assert {"feature_maps_01_features.1.png", "feature_maps_02_features.4.png"} <= names
    assert sorted(embedded(result.index_path)) == sorted(p.name for p in out.glob("*.png"))  # stale one removed
    assert all(not Path(link).is_absolute() for link in embedded(result.index_path))
    text = result.index_path.read_text()
    assert "**Grad-CAM layer**: features.4" in text and "**test images shown (split indices)**" in text
    assert result.evaluation.n == 360 and len(result.evaluation.confusion) == 10


def test_a_figure_that_cannot_be_drawn_is_explained_not_linked(tmp_path: Path) -> None:
    entries = [
        FigureEntry("Classification", "misclassified test images", PlotResult(None, "no misclassified test images")),
        FigureEntry("Classification", "ROC", PlotResult(tmp_path / "roc.png")),
    ]
    text = render_index("t", [("model", "m")], ["a note"], entries, tmp_path)
    assert "misclassified test images: not drawn - no misclassified test images." in text
    assert "![ROC](roc.png)" in text and "- **model**: m" in text and "a note" in text


def test_default_out_dir_names_the_model_data_and_variant() -> None:
    assert default_out_dir("lenet5", "digits", "baseline") == Path("viz/lenet5-digits")
    assert default_out_dir("lenet5", "digits", "pruned-50+int8") == Path("viz/lenet5-digits-pruned-50+int8")
    assert default_out_dir("tv:resnet18", "digits", "int8") == Path("viz/tv_resnet18-digits-int8")
