"""Dataset building blocks: raw image sources, transformed views of them, the split rule.

A data set is read once into a *source* that returns raw samples (a ``uint8`` tensor or a
PIL image, and a label). Each split is a :class:`SplitView`: indices into a source plus
the split's transform, so the augmented training set and its plain twin (``train_plain``)
share one copy of the images. Each data set's loader (``DatasetSpec.loader``) takes a
:class:`LoadRequest` and returns :class:`RawSplits`: its sources, split indices and transforms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

# The train/val/test split never depends on the training --seed: the test split is fixed.
SPLIT_SEED = 20240601
# The validation share carved from a training set that comes without one (torchvision's
# training files, an image folder without test/): the rest trains.
VAL_FRACTION = 0.1


class InMemoryImages(Dataset):
    """``uint8`` images (N, C, H, W) and integer labels held as tensors: no per-sample I/O."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | Sequence[int]) -> None:
        labels = torch.as_tensor(labels, dtype=torch.long)
        if images.dim() != 4 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"images {tuple(images.shape)} and labels {tuple(labels.shape)} disagree")
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def targets(self) -> list[int]:
        return self.labels.tolist()


class FileImages(Dataset):
    """(path, label) samples decoded on access by ``loader`` (e.g. PIL, converted to a mode)."""

    def __init__(self, samples: Sequence[tuple[str, int]], loader: Callable[[str], Any]) -> None:
        self.samples = list(samples)
        self.loader = loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        return self.loader(path), label

    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


class SyntheticImages(Dataset):
    """Random normal images, each drawn from its own seeded generator: any size, no memory.

    Labels cycle through the classes; they carry no information (speed runs only).
    """

    def __init__(self, length: int, shape: tuple[int, int, int], num_classes: int, seed: int) -> None:
        self.length = length
        self.shape = shape
        self.num_classes = num_classes
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        return torch.randn(self.shape, generator=generator), index % self.num_classes

    def targets(self) -> list[int]:
        return [i % self.num_classes for i in range(self.length)]


class SplitView(Dataset):
    """The samples ``indices`` of ``source`` passed through ``transform``.

    ``transform=None`` returns the source's samples unchanged (already tensors).
    """

    def __init__(
        self,
        source: Dataset,
        indices: Sequence[int] | None,
        transform: Callable[[Any], torch.Tensor] | None,
    ) -> None:
        self.source = source
        self.indices = list(range(len(source))) if indices is None else [int(i) for i in indices]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.source[self.indices[index]]
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def targets(self) -> list[int]:
        labels = self.source.targets()
        return [labels[i] for i in self.indices]


def stratified_split(labels: Sequence[int], fractions: Sequence[float], *, seed: int = SPLIT_SEED) -> list[list[int]]:
    """Split positions ``0..len(labels)-1`` into parts of the given fractions, per class.

    Parts are carved from the last to the first (the first part is what remains), so the
    held-out parts of ``(0.7, 0.1, 0.2)`` do not move when an earlier fraction changes.
    Classes too small to stratify fall back to a plain seeded shuffle, so a tiny image
    folder still splits instead of failing.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions {fractions} do not sum to 1")
    all_labels = np.asarray(labels)
    remaining = np.arange(len(all_labels))
    carved: list[list[int]] = []
    left = 1.0
    for fraction in reversed(fractions[1:]):
        share = fraction / left
        _, counts = np.unique(all_labels[remaining], return_counts=True)
        stratify = all_labels[remaining] if counts.min() >= 2 else None
        try:
            rest, taken = train_test_split(remaining, test_size=share, random_state=seed, stratify=stratify)
        except ValueError:  # too few samples per class for the requested share
            rest, taken = train_test_split(remaining, test_size=share, random_state=seed)
        carved.append(sorted(int(i) for i in taken))
        remaining = np.asarray(sorted(rest))
        left -= fraction
    return [[int(i) for i in remaining], *reversed(carved)]


@dataclass(frozen=True)
class LoadRequest:
    """What a data set's loader is asked for (:func:`bench.data.load_splits` checked it).

    ``input_size``: the side samples have. ``in_chans``/``num_classes``: where the data set lets
    the caller choose (image folders, synthetic data), else None. ``augment``: ``none``,
    ``light`` (translation by pad-and-crop) or ``imagenet`` (random resized crops), None for
    the data set's own choice; ``hflip`` adds (True) or drops (False) horizontal flips, None
    for that augmentation's default.
    """

    data_dir: Path | None
    input_size: int
    seed: int = 0
    download: bool = False
    in_chans: int | None = None
    num_classes: int | None = None
    augment: str | None = None
    hflip: bool | None = None


Transform = Callable[[Any], Any]


@dataclass
class RawSplits:
    """What a loader read: the raw (source, indices) of each split and the transforms that finish them.

    ``indices=None`` means the whole source. ``identity`` says which data this is, for
    checkpoint keys (the data directory and split sizes for data read from files, and the
    training augmentation where it is not the data set's default). ``train_transform`` /
    ``eval_transform`` None: samples are final already (synthetic tensors). ``inferred``: one
    line saying what was read from the images themselves (image folders), else None.
    """

    train: tuple[Dataset, list[int] | None]
    val: tuple[Dataset, list[int] | None]
    test: tuple[Dataset, list[int] | None]
    class_names: list[str]
    in_chans: int
    identity: dict[str, Any] = field(default_factory=dict)
    train_transform: Transform | None = None
    eval_transform: Transform | None = None
    inferred: str | None = None
