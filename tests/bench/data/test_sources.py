"""The torchvision-backed loaders on tiny files written in the real formats (IDX, CIFAR pickles)."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar

from bench.data import load_splits
from bench.data.sources import expected_files
from bench.errors import BenchError

RNG = np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX format: magic (0x08 = uint8, ndim), big-endian sizes, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str, n_train: int = 60, n_test: int = 20) -> None:
    raw = root / folder / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = RNG.integers(0, 256, size=(n, 28, 28))
        images[:, :2, :] = 255  # a bright top edge: shows where the 2-pixel padding went
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


def write_cifar10(root: Path, per_batch: int = 12, n_test: int = 10) -> None:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)

    def batch(n: int, offset: int) -> dict:
        return {
            "data": RNG.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": [(offset + i) % 10 for i in range(n)],
        }

    for i in range(1, 6):
        (base / f"data_batch_{i}").write_bytes(pickle.dumps(batch(per_batch, i)))
    (base / "test_batch").write_bytes(pickle.dumps(batch(n_test, 0)))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


@pytest.fixture
def no_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our tiny CIFAR files cannot match the real archives' MD5 sums: check presence only."""
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.mark.parametrize(("dataset", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_family_reads_idx_files_and_pads_to_32(tmp_path: Path, dataset: str, folder: str) -> None:
    write_mnist(tmp_path, folder)
    splits = load_splits(dataset, data_dir=tmp_path)
    assert splits.sizes() == {"train": 54, "val": 6, "test": 20}
    assert splits.input_shape == (1, 32, 32) and splits.num_classes == 10
    raw_image, label = splits.test.source[3]
    assert raw_image.shape == (1, 32, 32) and label == 3
    assert raw_image[0, :2].eq(0).all() and raw_image[0, 2:4, 2:30].eq(255).all()  # padded by 2
    image, _ = splits.test[3]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32
    assert splits.identity["data_dir"] == str(tmp_path.resolve())


def test_mnist_without_files_names_them_and_the_download_fix(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as info:
        load_splits("mnist", data_dir=tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "--download" in message
    assert "\n" not in message


def test_expected_files_follow_torchvision(tmp_path: Path) -> None:
    names = [p.name for p in expected_files("cifar100", tmp_path)]
    assert names == ["train", "test", "meta"]
    assert all(p.parent == tmp_path / "cifar-100-python" for p in expected_files("cifar100", tmp_path))


def test_cifar10_reads_pickled_batches(tmp_path: Path, no_checksums: None) -> None:
    write_cifar10(tmp_path)
    splits = load_splits("cifar10", data_dir=tmp_path, input_size=40)
    assert splits.sizes() == {"train": 54, "val": 6, "test": 10}
    assert splits.class_names[0] == "airplane"
    assert splits.input_shape == (3, 40, 40)
    image, label = splits.train_plain[0]
    assert image.shape == (3, 40, 40) and 0 <= label < 10


def test_cifar_augmentation_flips_and_crops(tmp_path: Path, no_checksums: None) -> None:
    write_cifar10(tmp_path)
    splits = load_splits("cifar10", data_dir=tmp_path)
    plain, _ = splits.train_plain[0]
    torch.manual_seed(0)
    seen = [splits.train[0][0] for _ in range(40)]
    assert any(torch.equal(image, plain.flip(-1)) for image in seen)
    assert any(not torch.equal(image, plain) and not torch.equal(image, plain.flip(-1)) for image in seen)


def test_cifar_files_with_wrong_checksums_are_reported_as_unreadable(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    with pytest.raises(BenchError, match=r"unreadable .*--download"):
        load_splits("cifar10", data_dir=tmp_path)
