"""Readers for the data sets held in memory: digits, the torchvision file sets, synthetic.

Digits comes with scikit-learn (offline). MNIST, Fashion-MNIST and CIFAR are read from
their standard files by torchvision's dataset classes, which also download them when
asked; their images are then kept as one ``uint8`` tensor at 32x32 (MNIST zero-padded
from 28x28 as in LeNet-5), so training never decodes a PIL image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from bench.data.datasets import (
    VAL_FRACTION,
    InMemoryImages,
    LoadRequest,
    RawSplits,
    SyntheticImages,
    stratified_split,
)
from bench.data.transforms import Augmentation, choose_augmentation, tensor_transforms
from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.data.specs import DatasetSpec

DIGITS_SPLIT = (0.7, 0.1, 0.2)  # train / val / test, stratified, fixed seed
SYNTHETIC_SIZES = {"train": 512, "val": 128, "test": 128}


def load_digits(spec: DatasetSpec, request: LoadRequest) -> RawSplits:
    """The ``digits`` loader: :func:`load_digits_raw` with the tensor pipeline."""
    return with_tensor_transforms(spec, request, load_digits_raw())


@dataclass(frozen=True)
class TorchvisionFiles:
    """The loader of a data set torchvision reads from its standard files (``class_name``:
    the ``torchvision.datasets`` class, e.g. ``MNIST``)."""

    class_name: str

    def __call__(self, spec: DatasetSpec, request: LoadRequest) -> RawSplits:
        assert request.data_dir is not None  # load_splits checked it
        raw = load_torchvision_raw(spec.name, request.data_dir, download=request.download)
        return with_tensor_transforms(spec, request, raw)

    def dataset_class(self) -> type:
        import torchvision.datasets

        return getattr(torchvision.datasets, self.class_name)


# The loaders of the torchvision file sets, by data set name (the spec table uses them).
TORCHVISION_FILES = {
    "mnist": TorchvisionFiles("MNIST"),
    "fashion-mnist": TorchvisionFiles("FashionMNIST"),
    "cifar10": TorchvisionFiles("CIFAR10"),
    "cifar100": TorchvisionFiles("CIFAR100"),
}


def load_synthetic(spec: DatasetSpec, request: LoadRequest) -> RawSplits:
    """The ``synthetic`` loader: random tensors at the requested size, already final."""
    return load_synthetic_raw(
        input_size=request.input_size,
        num_classes=request.num_classes or spec.num_classes or 1,
        in_chans=request.in_chans or spec.in_chans,
        seed=request.seed,
    )


def with_tensor_transforms(spec: DatasetSpec, request: LoadRequest, raw: RawSplits) -> RawSplits:
    """``raw`` (32x32 ``uint8`` tensors) with the data set's augmentation, or the one asked for;
    a non-default augmentation joins the identity (it shapes what a model learns)."""
    default = spec.augmentation or Augmentation("none")
    chosen = choose_augmentation(default, request.augment, request.hflip, translate_px=default.translate_px or 2)
    mean, std = spec.stats_for(raw.in_chans)
    train_tf, eval_tf = tensor_transforms(
        chosen, native_size=spec.image_size, input_size=request.input_size, mean=mean, std=std
    )
    identity = raw.identity if chosen == default else {**raw.identity, "augment": chosen.key()}
    return replace(raw, train_transform=train_tf, eval_transform=eval_tf, identity=identity)


def load_digits_raw() -> RawSplits:
    """scikit-learn's 8x8 digits (0..16) as 32x32 ``uint8`` images, split 70/10/20."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0
    large = F.interpolate(small, size=32, mode="bilinear", align_corners=False)
    images = (large * 255).round().clamp(0, 255).to(torch.uint8)
    source = InMemoryImages(images, digits.target)
    train, val, test = stratified_split(digits.target.tolist(), DIGITS_SPLIT)
    return RawSplits(
        train=(source, train),
        val=(source, val),
        test=(source, test),
        class_names=[str(c) for c in digits.target_names],
        in_chans=1,
        identity={"dataset": "digits", "sizes": [len(train), len(val), len(test)]},
    )


def expected_files(dataset: str, root: Path) -> list[Path]:
    """The files torchvision's class for data set ``dataset`` reads under ``root``."""
    cls = _torchvision_class(dataset)
    if hasattr(cls, "resources"):  # MNIST family: <root>/<ClassName>/raw/<file without .gz>
        raw = root / cls.__name__ / "raw"
        return [raw / Path(url).name.removesuffix(".gz") for url, _ in cls.resources]
    base = root / cls.base_folder  # CIFAR: pickled batches and a meta file
    names = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    return [base / name for name in names]


def load_torchvision_raw(dataset: str, data_dir: Path, *, download: bool) -> RawSplits:
    """MNIST/Fashion-MNIST/CIFAR from their standard files; validation carved from train."""
    cls = _torchvision_class(dataset)
    missing = [p for p in expected_files(dataset, data_dir) if not p.is_file()]
    if missing and not download:
        shown = ", ".join(str(p) for p in missing[:4]) + (" ..." if len(missing) > 4 else "")
        raise BenchError(
            f"{dataset} files not found under {data_dir}: missing {shown}",
            f"put the standard {dataset} files there, or add --download to fetch them",
        )
    try:
        train_set = cls(str(data_dir), train=True, download=download)
        test_set = cls(str(data_dir), train=False, download=False)
    except RuntimeError as exc:  # torchvision's "not found or corrupted" (checksum) errors
        raise BenchError(
            f"{dataset} files under {data_dir} are unreadable ({exc})",
            "delete them and fetch them again with --download",
        ) from None
    except OSError as exc:  # network failures while downloading
        raise BenchError(
            f"could not download {dataset} into {data_dir} ({exc})",
            "check the network, or copy the standard files there by hand",
        ) from None
    train_source = _to_memory(train_set)
    test_source = _to_memory(test_set)
    train, val = stratified_split(train_source.targets(), (1 - VAL_FRACTION, VAL_FRACTION))
    return RawSplits(
        train=(train_source, train),
        val=(train_source, val),
        test=(test_source, None),
        class_names=[str(c) for c in train_set.classes],
        in_chans=train_source.images.shape[1],
        identity={
            "dataset": dataset,
            "data_dir": str(data_dir.resolve()),
            "sizes": [len(train), len(val), len(test_source)],
        },
    )


def load_synthetic_raw(*, input_size: int, num_classes: int, in_chans: int, seed: int) -> RawSplits:
    """Random tensors already at ``input_size``; labels are nominal (speed runs only)."""
    shape = (in_chans, input_size, input_size)
    parts = {
        split: SyntheticImages(size, shape, num_classes, seed=seed * 3 + offset)
        for offset, (split, size) in enumerate(SYNTHETIC_SIZES.items())
    }
    return RawSplits(
        train=(parts["train"], None),
        val=(parts["val"], None),
        test=(parts["test"], None),
        class_names=[f"class_{i}" for i in range(num_classes)],
        in_chans=in_chans,
        identity={"dataset": "synthetic", "seed": seed},
    )


def _torchvision_class(dataset: str) -> type:
    return TORCHVISION_FILES[dataset].dataset_class()


def _to_memory(dataset: Dataset) -> InMemoryImages:
    """torchvision's arrays as (N, C, 32, 32) ``uint8``: MNIST padded 28 -> 32, CIFAR HWC -> CHW."""
    data = torch.as_tensor(dataset.data)
    if data.dim() == 3:  # MNIST family: (N, 28, 28)
        images = F.pad(data.unsqueeze(1), (2, 2, 2, 2))
    else:  # CIFAR: (N, 32, 32, 3)
        images = data.permute(0, 3, 1, 2).contiguous()
    return InMemoryImages(images, torch.as_tensor(dataset.targets))
