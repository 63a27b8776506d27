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

from bench.data.datasets import LoadRequest, RawSplits, SplitView
from bench.data.specs import DatasetSpec, get_dataset_spec
from bench.data.transforms import check_augment
from bench.errors import BenchError


@dataclass
class DataSplits:
    """A data set ready for training and evaluation; samples are (normalized CxHxW, label).

    ``inferred``: one line saying what was read from the images themselves (image folders:
    channels, size, statistics, the augmentation chosen), for the CLI to show; else None.
    """

    spec: DatasetSpec
    train: Dataset  # augmented
    train_plain: Dataset  # the training images with the evaluation transform
    val: Dataset
    test: Dataset
    class_names: list[str]
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) the samples have
    identity: dict[str, Any] = field(default_factory=dict)  # which data: for checkpoint keys
    inferred: str | None = None

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
    augment: str | None = None,
    hflip: bool | None = None,
) -> DataSplits:
    """Read data set ``name`` with its own loader and return its splits at ``input_size``
    (default: its own size).

    ``seed`` only seeds the synthetic images; the splits never depend on it.
    ``in_chans`` chooses 1 or 3 channels for image folders (default: from the data) and
    any count for synthetic data; ``num_classes`` sets the synthetic class count.
    ``augment`` (``none``, ``light``, ``imagenet``) and ``hflip`` override the training
    augmentation the data set would choose (:mod:`bench.data.transforms`).
    """
    spec = get_dataset_spec(name)
    size = spec.image_size if input_size is None else int(input_size)
    if size < 1:
        raise BenchError(f"input size {size} is not positive", "pass a size such as 32 or 224")
    _check_options(spec, data_dir=data_dir, in_chans=in_chans, num_classes=num_classes)
    check_augment(augment)
    request = LoadRequest(
        data_dir=Path(data_dir).expanduser() if data_dir is not None else None,
        input_size=size,
        seed=seed,
        download=download,
        in_chans=in_chans,
        num_classes=num_classes,
        augment=augment,
        hflip=hflip,
    )
    return _assemble(spec, spec.load(request), size)


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
    train_source, train_indices = raw.train
    return DataSplits(
        spec=spec,
        train=SplitView(train_source, train_indices, raw.train_transform),
        train_plain=SplitView(train_source, train_indices, raw.eval_transform),
        val=SplitView(*raw.val, raw.eval_transform),
        test=SplitView(*raw.test, raw.eval_transform),
        class_names=raw.class_names,
        num_classes=len(raw.class_names),
        input_shape=(raw.in_chans, size, size),
        identity=raw.identity,
        inferred=raw.inferred,
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
            "pass --data-dir DIR" + (" (add --download to fetch it)" if spec.downloadable else ""),
        )
    if not spec.needs_data_dir and data_dir is not None:
        raise BenchError(
            f"data set {spec.name} does not read a data directory",
            "drop --data-dir, or pick a data set read from files (mnist, cifar10, imagefolder, ...)",
        )
    if in_chans is not None and not spec.chooses_channels and in_chans != spec.in_chans:
        raise BenchError(
            f"data set {spec.name} has {spec.in_chans} channel(s), not {in_chans}",
            "leave the channel count to the data set",
        )
    if num_classes is not None and not spec.chooses_classes and num_classes != spec.num_classes:
        raise BenchError(
            f"data set {spec.name} has its own class count; num_classes={num_classes} applies to synthetic only",
            "leave the class count to the data set",
        )
