"""``load_splits``: any data set as train / train_plain / val / test at a model's input size.

The split is fixed (``SPLIT_SEED``), never the training ``--seed``: a test image stays a
test image whatever model or seed is trained. ``input_size`` is the side the *model*
needs (``ModelSpec.resolve_input_size`` of the data set's ``image_size``); the pipeline
resizes to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from bench.data.datasets import RawSplits, SplitView
from bench.data.folders import load_folder_raw
from bench.data.sources import (
    TORCHVISION_CLASSES,
    load_digits_raw,
    load_synthetic_raw,
    load_torchvision_raw,
)
from bench.data.specs import DatasetSpec, get_dataset_spec
from bench.data.transforms import folder_transforms, tensor_transforms
from bench.errors import BenchError

FOLDER_DATASETS = ("imagefolder", "imagenet")


@dataclass
class DataSplits:
    """A data set ready for training and evaluation; samples are (normalized CxHxW, label)."""

    spec: DatasetSpec
    train: Dataset  # augmented
    train_plain: Dataset  # the training images with the evaluation transform
    val: Dataset
    test: Dataset
    class_names: list[str]
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) the samples have
    identity: dict[str, Any] = field(default_factory=dict)  # which data: for checkpoint keys

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def load_splits(
    name: str,
    *,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    seed: int = 0,
    download: bool = False,
    in_chans: int | None = None,
    num_classes: int | None = None,
) -> DataSplits:
    """Read data set ``name`` and return its splits at ``input_size`` (default: its own size).

    ``seed`` only seeds the synthetic images; the splits never depend on it.
    ``in_chans`` chooses 1 or 3 channels for image folders (default: from the data) and
    any count for synthetic data; ``num_classes`` sets the synthetic class count.
    """
    spec = get_dataset_spec(name)
    size = spec.image_size if input_size is None else int(input_size)
    if size < 1:
        raise BenchError(f"input size {size} is not positive", "pass a size such as 32 or 224")
    _check_options(spec, data_dir=data_dir, in_chans=in_chans, num_classes=num_classes)
    root = Path(data_dir).expanduser() if data_dir is not None else None

    if spec.name == "digits":
        raw = load_digits_raw()
    elif spec.name in TORCHVISION_CLASSES:
        raw = load_torchvision_raw(spec.name, root, download=download)
    elif spec.name in FOLDER_DATASETS:
        raw = load_folder_raw(spec.name, root, in_chans=in_chans if spec.name == "imagefolder" else 3)
    else:
        raw = load_synthetic_raw(
            input_size=size,
            num_classes=num_classes or spec.num_classes,
            in_chans=in_chans or spec.in_chans,
            seed=seed,
        )
    return _assemble(spec, raw, size)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds follow ``seed`` (reproducible runs)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=num_workers > 0,
    )


def _assemble(spec: DatasetSpec, raw: RawSplits, size: int) -> DataSplits:
    if spec.name in FOLDER_DATASETS:
        mean, std = spec.stats_for(raw.in_chans)
        train_tf, eval_tf = folder_transforms(input_size=size, mean=mean, std=std)
    elif spec.has_labels:
        mean, std = spec.stats_for(raw.in_chans)
        train_tf, eval_tf = tensor_transforms(
            spec.name, native_size=spec.image_size, input_size=size, mean=mean, std=std
        )
    else:  # synthetic tensors are generated at the requested size, already "normalized"
        train_tf = eval_tf = None
    train_source, train_indices = raw.train
    return DataSplits(
        spec=spec,
        train=SplitView(train_source, train_indices, train_tf),
        train_plain=SplitView(train_source, train_indices, eval_tf),
        val=SplitView(*raw.val, eval_tf),
        test=SplitView(*raw.test, eval_tf),
        class_names=raw.class_names,
        num_classes=len(raw.class_names),
        input_shape=(raw.in_chans, size, size),
        identity=raw.identity,
    )


def _check_options(
    spec: DatasetSpec,
    *,
    data_dir: str | Path | None,
    in_chans: int | None,
    num_classes: int | None,
) -> None:
    if spec.needs_data_dir and data_dir is None:
        raise BenchError(
            f"data set {spec.name} is read from files and no data directory was given",
            "pass --data-dir DIR" + (" (add --download to fetch it)" if spec.name in TORCHVISION_CLASSES else ""),
        )
    if not spec.needs_data_dir and data_dir is not None:
        raise BenchError(
            f"data set {spec.name} does not read a data directory",
            "drop --data-dir, or pick a data set read from files (mnist, cifar10, imagefolder, ...)",
        )
    if in_chans is not None and spec.name not in ("imagefolder", "synthetic") and in_chans != spec.in_chans:
        raise BenchError(
            f"data set {spec.name} has {spec.in_chans} channel(s), not {in_chans}",
            "leave the channel count to the data set",
        )
    if num_classes is not None and spec.name != "synthetic" and num_classes != spec.num_classes:
        raise BenchError(
            f"data set {spec.name} has its own class count; num_classes={num_classes} applies to synthetic only",
            "leave the class count to the data set",
        )
