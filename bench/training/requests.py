"""What a command asks for when it needs a model: small frozen requests, and how they resolve.

Every command that trains, loads or searches a model (`bench train`, `run`, `viz`, `tune`) asks
the same three questions, so they are three values instead of a long argument list:

* :class:`DataRequest` - what data: the data set, where it lives, the input size, the seed;
* :class:`TrainingRequest` - what training: preset or recipe, epochs, device, cache, retrain;
* :class:`BuildRequest` - what model: starting weights, freeze, normalization, dropout.

The resolvers below turn them into what training needs (the side a model is trained at, its
splits, a freshly seeded model, its recipe), one definition shared by :mod:`obtain` and
:mod:`tune`; :mod:`bench.provider` builds on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import torch
from torch import nn

from bench.data import DatasetSpec, DataSplits, load_splits
from bench.devices import resolve_device
from bench.errors import BenchError, suggest
from bench.training.freeze import Freeze, parse_freeze
from bench.training.recipes import Recipe, get_recipe
from bench.training.weights import PRETRAINED
from bench.zoo import ModelSpec, create_model


class WeightsSource(str, Enum):
    """Where a model's weights came from: the rows' ``weights`` field (plain strings in files).

    A ``str`` enum (Python 3.10 has no ``StrEnum``): members equal, print and serialize as
    their value, so rows and JSON hold ``"trained"``, not the member's name.
    """

    def __str__(self) -> str:
        return str(self.value)

    TRAINED = "trained"  # trained (or fine-tuned) by this command
    CACHED = "cached"  # a checkpoint an earlier command trained
    PRETRAINED = PRETRAINED  # torchvision's ImageNet weights, used as they are
    FILE = "file"  # a user's weights file (--weights PATH)
    UNTRAINED = "untrained"  # freshly initialized: speed-only rows


@dataclass(frozen=True)
class DataRequest:
    """What data a model is trained and evaluated on.

    ``input_size`` None: the side the data set and model call for (:func:`input_size_for`).
    ``seed`` is the run's seed: initial weights, data order, and synthetic images; the
    train/val/test split itself never depends on it. ``augment``/``hflip``: the training
    augmentation (:mod:`bench.data.transforms`), when not the data set's own.
    """

    dataset: str
    data_dir: str | Path | None = None
    input_size: int | None = None
    seed: int = 0
    download: bool = False  # fetch a missing torchvision data set (or pretrained weights)
    augment: str | None = None  # none, light, imagenet; None: the data set's choice
    hflip: bool | None = None  # horizontal flips on or off; None: the augmentation's default


# What a damaged cached checkpoint leads to (--damaged-cache): train it again, or stop with the fix.
ON_DAMAGED = ("retrain", "stop")


@dataclass(frozen=True)
class TrainingRequest:
    """How a model is trained, and where trained models are cached.

    ``recipe`` (e.g. one found by `bench tune`) replaces ``preset``'s; ``epochs`` overrides
    either. ``device`` may be a name (``auto``, ``cpu``, ``cuda:N``): :attr:`torch_device`.
    ``cache_dir`` None: :func:`bench.training.checkpoint.default_cache_dir`. ``on_damaged``: what a
    cached checkpoint that fails its digest (or has none) leads to: ``retrain`` (reported in
    :attr:`TrainedModel.warnings <bench.training.obtain.TrainedModel>`) or ``stop`` (the
    :class:`~bench.training.checkpoint.DamagedCheckpoint` error, naming ``--retrain``).
    """

    preset: str = "quick"
    epochs: int | None = None
    recipe: Recipe | None = None
    retrain: bool = False  # train even when the cache holds the model
    device: torch.device | str = "cpu"
    cache_dir: str | Path | None = None
    on_damaged: str = "retrain"

    def __post_init__(self) -> None:
        if self.on_damaged not in ON_DAMAGED:
            raise BenchError(
                f"unknown --damaged-cache {self.on_damaged!r}{suggest(self.on_damaged, ON_DAMAGED)}",
                "use " + " or ".join(ON_DAMAGED),
            )

    @property
    def torch_device(self) -> torch.device:
        return self.device if isinstance(self.device, torch.device) else resolve_device(self.device)


@dataclass(frozen=True)
class BuildRequest:
    """How the model is built and where its weights start.

    ``weights``: ``pretrained`` (torchvision's ImageNet weights) or a file; ``freeze`` (a
    :class:`Freeze` or its flag text) needs them. ``norm``/``dropout`` build the model with
    another normalization or classifier dropout (:func:`bench.zoo.create_model`).
    """

    weights: str | Path | None = None
    freeze: Freeze | str | None = None
    norm: str | None = None
    dropout: float | None = None

    @property
    def parsed_freeze(self) -> Freeze | None:
        return parse_freeze(self.freeze) if isinstance(self.freeze, str) else self.freeze

    @property
    def pretrained(self) -> bool:
        """Whether the weights are torchvision's (not a file)."""
        return self.weights is not None and str(self.weights) == PRETRAINED


def input_size_for(spec: ModelSpec, data_spec: DatasetSpec, input_size: int | None = None) -> int:
    """The side ``spec`` is trained and timed at: ``input_size``, else what the data calls for
    (full-resolution data at the model's native size, e.g. 299 for Inception-v3; image folders,
    whose size is not known before they are read, at the model's native size: 32 for LeNet-5),
    raised to the model's minimum input size."""
    if input_size is None and data_spec.sized_by_model:
        return spec.resolve_input_size(spec.native_input_size)
    return spec.resolve_input_size(input_size or spec.input_size_for_data(data_spec.image_size))


def splits_for_model(
    spec: ModelSpec, data_spec: DatasetSpec, data: DataRequest, splits: DataSplits | None = None
) -> DataSplits:
    """The splits ``spec`` trains on: loaded at its input size, or ``splits`` checked against it."""
    size = input_size_for(spec, data_spec, data.input_size)
    if splits is None:
        return load_splits(
            data_spec.name,
            data_dir=data.data_dir,
            input_size=size,
            seed=data.seed,
            download=data.download,
            augment=data.augment,
            hflip=data.hflip,
        )
    if splits.input_shape[1] != size:
        raise BenchError(
            f"{spec.name} needs {size}x{size} inputs but the given splits are "
            f"{splits.input_shape[1]}x{splits.input_shape[2]}",
            f"load the splits with input_size={size}",
        )
    return splits


def model_for_splits(
    name: str, splits: DataSplits, *, seed: int, norm: str | None = None, dropout: float | None = None
) -> nn.Module:
    """A fresh ``name`` for the splits' classes, channels and size; same seed, same weights."""
    torch.manual_seed(seed)
    return create_model(
        name,
        num_classes=splits.num_classes,
        in_chans=splits.input_shape[0],
        input_size=splits.input_shape[1],
        norm=norm,
        dropout=dropout,
    )


def training_recipe(spec: ModelSpec, data_spec: DatasetSpec, training: TrainingRequest) -> Recipe:
    """The recipe ``training`` asks for: its own recipe or the preset's, with its epochs."""
    if training.recipe is None:
        return get_recipe(spec, training.preset, data_spec.name, epochs=training.epochs)
    if training.epochs is not None:
        return replace(training.recipe, epochs=training.epochs)
    return training.recipe
