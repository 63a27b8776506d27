"""`bench train`: trains then loads from the cache, JSON-only stdout, one-line errors with exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.profiling.profiler import thread_count


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """LeNet-sized training is fastest on one thread (and much faster on a shared CPU)."""
    with thread_count(1):
        yield


def train_json(capsys, *args: str) -> list[dict]:
    assert main(["train", *args, "--format", "json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_train_then_load_from_the_cache_with_identical_accuracy(capsys, tmp_path: Path) -> None:
    args = ("lenet5", "--epochs", "1", "--cache-dir", str(tmp_path), "--device", "cpu")
    (first,) = train_json(capsys, *args)
    assert first["source"] == "trained" and first["epochs"] == 1
    assert first["model"] == "lenet5" and first["dataset"] == "digits" and first["input_size"] == "1x32x32"
    assert Path(first["checkpoint"]).parent == tmp_path / "checkpoints"
    assert [tuple(e) for e in first["history"]] == [
        ("epoch", "train_loss", "train_top1", "val_loss", "val_top1", "lr", "seconds")
    ]
    assert len(first["evaluation"]["confusion"]) == 10 and first["evaluation"]["n"] == 360

    (second,) = train_json(capsys, *args)
    assert second["source"] == "cached"
    assert (second["test_top1"], second["test_top5"], second["checkpoint"]) == (
        first["test_top1"],
        first["test_top5"],
        first["checkpoint"],
    )

    assert main(["train", *args]) == EXIT_OK
    table = capsys.readouterr().out
    assert "lenet5" in table and "cached" in table and f"{first['test_top1']:.2f}" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "lenet6"], "unknown model 'lenet6' (did you mean lenet5"),
        (["train", "lenet5", "--dataset", "mnist"], "no data directory was given"),
        (["train", "lenet5", "--dataset", "imagefolder", "--data-dir", "/nonexistent/x"], "does not exist"),
        (["train", "lenet5", "--preset", "fast"], "unknown preset 'fast'"),
        (["train", "lenet5", "--dataset", "synthetic"], "synthetic has no labels"),
        (["train", "lenet5", "--weights", "/nonexistent/w.pt"], "weights file /nonexistent/w.pt does not exist"),
        (["train", "lenet5", "--freeze", "backbone"], "--freeze backbone needs weights to start from"),
        (["train", "lenet5", "--weights", "pretrained", "--freeze", "top"], "--freeze 'top' is not backbone, none"),
        (["train", "lenet5", "--norm", "gn"], "--norm gn: lenet5 has no normalization layers to swap"),
        (["train", "resnet20", "--norm", "foo"], "--norm 'foo' is not a normalization"),
        (["train", "vgg11", "--dropout", "1.5"], "--dropout 1.5 is out of range"),
        (["train", "lenet5,resnet20", "--dropout", "0.3"], "--dropout: lenet5 has no dropout before its classifier"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path: Path, argv: list[str], message: str) -> None:
    assert main([*argv, "--cache-dir", str(tmp_path)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert len([line for line in captured.err.splitlines() if "error" in line]) == 1
    assert captured.out == ""


def test_a_non_positive_epoch_count_is_a_usage_error(capsys) -> None:
    assert main(["train", "lenet5", "--epochs", "0"]) == EXIT_USAGE
    assert "must be positive, got 0" in capsys.readouterr().err


def test_a_corrupt_checkpoint_is_exit_2_and_names_the_file(capsys, tmp_path: Path) -> None:
    args = ["train", "lenet5", "--epochs", "1", "--cache-dir", str(tmp_path), "--format", "json"]
    assert main(args) == EXIT_OK
    path = Path(json.loads(capsys.readouterr().out)[0]["checkpoint"])
    path.write_bytes(b"not a checkpoint")
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"checkpoint {path} is corrupt" in err and "--retrain" in err
    assert main([*args, "--retrain"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)[0]["source"] == "trained"


def test_a_tuned_recipe_file_replaces_the_preset(capsys, tmp_path: Path) -> None:
    from bench.training import get_recipe
    from bench.training.tune import RECIPE_FORMAT, RECIPE_VERSION
    from bench.zoo import get_model_spec

    tuned = get_recipe(get_model_spec("lenet5"), "quick", "digits", epochs=1).to_dict() | {"lr": 0.01}
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({"format": RECIPE_FORMAT, "version": RECIPE_VERSION, "recipe": tuned}))
    (row,) = train_json(capsys, "lenet5", "--recipe", str(path), "--cache-dir", str(tmp_path))
    assert row["recipe"] == tuned and row["epochs"] == 1
    path.write_text("{}")
    assert main(["train", "lenet5", "--recipe", str(path), "--cache-dir", str(tmp_path)]) == EXIT_USAGE
    assert "is not a cnnbench recipe file" in capsys.readouterr().err


def test_a_frozen_backbone_fine_tune_reports_the_layers_that_trained(capsys, tmp_path: Path) -> None:
    import torch

    from bench.zoo import create_model

    weights = tmp_path / "lenet5.pt"
    torch.save(create_model("lenet5", num_classes=10, in_chans=1, input_size=32).state_dict(), weights)
    args = ["lenet5", "--weights", str(weights), "--epochs", "1", "--cache-dir", str(tmp_path)]
    (row,) = train_json(capsys, *args, "--freeze", "backbone")
    assert row["source"] == "trained" and row["freeze"] == "backbone" and row["epochs"] == 1
    assert row["trained_layers"] == ["classifier"]
    assert row["trainable_parameters"] == [f"classifier.{i}.{p}" for i in (1, 3) for p in ("weight", "bias")]

    assert main(["train", *args, "--freeze", "4"]) == EXIT_USAGE
    assert "--freeze 4: lenet5 has 3 stages; pass --freeze 1 to 3" in capsys.readouterr().err
    assert main(["train", *args, "--freeze", "1"]) == EXIT_OK
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # rich wraps long lines
    assert "lenet5: --freeze 1: trained features.3, features.6, classifier (8 of 10 parameter tensors)" in err
    assert "lenet5" in captured.out


def test_the_recipe_file_bench_tune_writes_trains_end_to_end(capsys, tmp_path: Path) -> None:
    from bench.training.tune import load_recipe

    best = tmp_path / "best.json"
    tune = ["tune", "lenet5", "--grid", "lr=0.004", "--grid", "epochs=1", "--device", "cpu", "--out", str(best)]
    assert main([*tune, "--format", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["recipe_file"] == str(best)
    args = ("lenet5", "--recipe", str(best), "--cache-dir", str(tmp_path), "--device", "cpu")
    (row,) = train_json(capsys, *args)
    assert row["source"] == "trained" and row["epochs"] == 1
    assert row["recipe"] == load_recipe(best).to_dict() and row["recipe"]["lr"] == 0.004
    (again,) = train_json(capsys, *args)  # the tuned recipe keys the cache like any other
    assert again["source"] == "cached" and again["checkpoint"] == row["checkpoint"]


def test_a_damaged_cached_checkpoint_is_reported_in_one_line_and_retrained(
    capsys, tmp_path: Path, flip_exponent_bits
) -> None:
    args = ["lenet5", "--epochs", "1", "--cache-dir", str(tmp_path), "--device", "cpu"]
    (first,) = train_json(capsys, *args)
    path = Path(first["checkpoint"])
    flip_exponent_bits(path)
    assert main(["train", *args, "--damaged-cache", "stop"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == (
        f"bench train: error: checkpoint {path} is damaged: its tensors do not match the digest written when it "
        f"was saved; rerun with --retrain, or delete {path}"
    )
    assert main(["train", *args, "--format", "json"]) == EXIT_OK
    captured = capsys.readouterr()
    (again,), err = json.loads(captured.out), captured.err
    notices = [line for line in err.splitlines() if "is damaged" in line]
    assert notices == [
        f"lenet5: checkpoint {path} is damaged: its tensors do not match the digest written when it was saved: training it again"
    ]
    assert again["source"] == "trained" and again["test_top1"] == first["test_top1"]
    assert main(["train", *args, "--format", "json"]) == EXIT_OK
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["source"] == "cached" and "damaged" not in captured.err


def test_an_image_folder_says_in_one_line_what_it_inferred(capsys, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    for split, count in (("train", 12), ("val", 3)):
        for label in range(2):
            folder = tmp_path / "data" / split / f"c{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.zeros((28, 28), dtype=np.uint8)
                pixels[4 + 12 * label : 10 + 12 * label, 2 + i % 5 :] = 200
                Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    args = ["lenet5", "--dataset", "imagefolder", "--data-dir", str(tmp_path / "data"), "--epochs", "1"]
    assert main(["train", *args, "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--format", "json"]) == 0
    captured = capsys.readouterr()
    (row,), err = json.loads(captured.out), captured.err
    lines = [line for line in err.splitlines() if "sampled images" in line]
    assert len(lines) == 1, err
    assert "2 classes, 1 channel (grey), images 28x28" in lines[0]
    assert "light (pad-and-crop 2 px, no flip), input 32x32" in lines[0]
    assert row["input_size"] == "1x32x32" and row["num_classes"] == 2  # LeNet-5's native size, not 224
