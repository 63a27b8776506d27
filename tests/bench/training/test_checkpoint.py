"""The checkpoint cache: location, keys, atomic weights-only files, and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.training.checkpoint import (
    Checkpoint,
    checkpoint_key,
    checkpoint_path,
    default_cache_dir,
    load_checkpoint,
    plain_data,
    save_checkpoint,
)


def make_key(**changes) -> dict:
    values = dict(
        model="lenet5",
        dataset={"dataset": "digits"},
        input_shape=(1, 32, 32),
        num_classes=10,
        recipe={"lr": 0.003, "epochs": 20},
        seed=0,
        weights="scratch",
    )
    values.update(changes)
    return checkpoint_key(**values)


def make_checkpoint(key: dict | None = None) -> Checkpoint:
    return Checkpoint(
        key=key or make_key(),
        state_dict={"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)},
        history=[{"epoch": 1, "train_loss": 1.5, "val_top1": 80.0}],
        evaluation={"top1": 97.5, "confusion": [[1, 0], [0, 1]]},
        meta={"torch": torch.__version__, "shape": (1, 32, 32), "best_epoch": None},
    )


def test_cache_dir_prefers_the_cnnbench_variable_then_xdg_then_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNNBENCH_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("CNNBENCH_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "cnnbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "cnnbench"


def test_every_key_field_changes_the_file_name(tmp_path: Path) -> None:
    variants = [
        make_key(),
        make_key(model="resnet20"),
        make_key(dataset={"dataset": "imagefolder", "data_dir": "/data/a"}),
        make_key(dataset={"dataset": "imagefolder", "data_dir": "/data/b"}),
        make_key(input_shape=(1, 63, 63)),
        make_key(input_shape=(3, 32, 32)),
        make_key(num_classes=100),
        make_key(recipe={"lr": 0.001, "epochs": 20}),
        make_key(seed=1),
        make_key(weights="pretrained:resnet18-f37072fd.pth"),
    ]
    paths = {checkpoint_path(tmp_path, key) for key in variants}
    assert len(paths) == len(variants)
    assert checkpoint_path(tmp_path, make_key()) == checkpoint_path(tmp_path, make_key())
    name = checkpoint_path(tmp_path, make_key(model="tv:resnet18")).name
    assert name.startswith("tv_resnet18-digits-1x32x32-s0-") and name.endswith(".pt")


def test_save_and_load_round_trip_with_weights_only(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "sub" / "model.pt", make_checkpoint())
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left behind
    raw = torch.load(path, weights_only=True)
    assert raw["meta"]["shape"] == [1, 32, 32] and type(raw["meta"]["torch"]) is str
    loaded = load_checkpoint(path, expected_key=make_key())
    assert torch.equal(loaded.state_dict["w"], make_checkpoint().state_dict["w"])
    assert loaded.history == make_checkpoint().history
    assert loaded.evaluation["confusion"] == [[1, 0], [0, 1]]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "model.pt", make_checkpoint())
    broken = make_checkpoint()
    broken.meta["bad"] = object()
    with pytest.raises(TypeError, match="cannot store a object"):
        save_checkpoint(path, broken)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    assert load_checkpoint(path).meta["best_epoch"] is None


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage that is no zip file", None],
    ids=["empty", "garbage", "truncated"],
)
def test_corrupt_files_are_one_line_errors_naming_file_and_fix(tmp_path: Path, content) -> None:
    path = tmp_path / "model.pt"
    if content is None:
        save_checkpoint(path, make_checkpoint())
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(BenchError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert f"checkpoint {path} is corrupt or unreadable" in message
    assert "--retrain" in message and "\n" not in message


def test_files_with_pickled_code_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"format": "cnnbench-checkpoint", "payload": Path("/etc")}, path)
    with pytest.raises(BenchError, match=r"WeightsUnpickler error"):
        load_checkpoint(path)


def test_foreign_and_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "state.pt"
    torch.save({"w": torch.zeros(1)}, foreign)
    with pytest.raises(BenchError, match="is not a cnnbench checkpoint"):
        load_checkpoint(foreign)
    path = save_checkpoint(tmp_path / "model.pt", make_checkpoint())
    with pytest.raises(BenchError, match=r"another configuration \(differs in recipe, seed\)"):
        load_checkpoint(path, expected_key=make_key(seed=3, recipe={"lr": 1.0}))


def test_plain_data_converts_what_weights_only_cannot_read() -> None:
    import numpy as np

    converted = plain_data({"a": (1, 2), "b": np.float64(0.5), 3: [np.int64(4)]})
    assert converted == {"a": [1, 2], "b": 0.5, "3": [4]}
    assert type(converted["b"]) is float


def test_the_digest_is_written_and_verified_on_every_load(tmp_path: Path, flip_exponent_bits) -> None:
    from bench.training.checkpoint import DamagedCheckpoint, tensor_digest

    checkpoint = make_checkpoint()
    path = save_checkpoint(tmp_path / "model.pt", checkpoint)
    stored = torch.load(path, weights_only=True)["digest"]
    assert stored == {"kind": "sha256-tensors", "value": tensor_digest(checkpoint.state_dict)}
    assert load_checkpoint(path).state_dict.keys() == checkpoint.state_dict.keys()
    assert flip_exponent_bits(path) == 8
    with pytest.raises(DamagedCheckpoint, match=r"is damaged: its tensors do not match the digest") as info:
        load_checkpoint(path)
    assert "--retrain" in str(info.value) and "\n" not in str(info.value)


def test_the_digest_covers_names_dtypes_shapes_and_order() -> None:
    from bench.training.checkpoint import tensor_digest

    base = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}
    digest = tensor_digest(base)
    assert tensor_digest({"w": base["w"].clone(), "b": base["b"].clone()}) == digest
    assert tensor_digest({"b": base["b"], "w": base["w"]}) != digest
    assert tensor_digest({"w": base["w"].reshape(3, 2), "b": base["b"]}) != digest
    assert tensor_digest({"w": base["w"].double(), "b": base["b"]}) != digest
    assert tensor_digest({"v": base["w"], "b": base["b"]}) != digest
    assert tensor_digest({"w": base["w"].bfloat16(), "b": base["b"].bool()})  # any dtype hashes


def test_a_checkpoint_without_a_digest_cannot_be_verified(tmp_path: Path) -> None:
    from bench.training.checkpoint import DamagedCheckpoint

    path = save_checkpoint(tmp_path / "model.pt", make_checkpoint())
    payload = torch.load(path, weights_only=True)
    del payload["digest"]  # as cnnbench wrote them before the digest
    torch.save(payload, path)
    with pytest.raises(DamagedCheckpoint, match=r"has no digest of its tensors \(written by an older cnnbench\)"):
        load_checkpoint(path)
