"""What each data set is, before any file is read: the table behind `--dataset NAME`.

Other modules (``bench list``, ``bench profile``, the runner) need a data set's input shape
and class count without loading it; they read it here. Each entry also carries its own
``loader`` (as timm and torchvision keep metadata next to the builder), which
:func:`bench.data.load_splits` calls: adding a data set is adding a row, and no code chooses
a loader by comparing names. A figure such as the digits' mean lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.data.datasets import LoadRequest, RawSplits
from bench.data.folders import FolderLoader
from bench.data.sources import TORCHVISION_FILES, load_digits, load_synthetic
from bench.data.transforms import Augmentation
from bench.errors import BenchError, suggest

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DatasetSpec:
    """A data set's fixed facts.

    ``image_size`` is the spatial size the data set yields by default (the loaders resize
    to a model's larger minimum size on request); ``sized_by_model``: the images' size is not
    known before they are read, so each model is fed at its native size (``imagefolder``).
    ``num_classes`` is ``None`` where the data decides it (``imagefolder``). ``mean``/``std``
    are per channel, for ``in_chans`` channels; a one-channel image folder uses their average
    (see ``stats_for``). ``loader`` reads the splits (:class:`LoadRequest` -> :class:`RawSplits`);
    ``augmentation`` is the tensor sets' default training augmentation. ``chooses_channels`` /
    ``chooses_classes``: the caller may set the channel / class count; ``downloadable``:
    ``--download`` can fetch the files.
    """

    name: str
    num_classes: int | None
    in_chans: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    needs_data_dir: bool
    has_labels: bool
    description: str
    loader: Callable[[DatasetSpec, LoadRequest], RawSplits]
    augmentation: Augmentation | None = None
    chooses_channels: bool = False
    chooses_classes: bool = False
    downloadable: bool = False
    sized_by_model: bool = False

    def load(self, request: LoadRequest) -> RawSplits:
        """The raw splits and transforms of this data set, as ``request`` asks."""
        return self.loader(self, request)

    def require_labels(self, needed_for: str) -> None:
        """A one-line BenchError when this data set has no labels (``synthetic``) but ``needed_for`` needs them."""
        if not self.has_labels:
            raise BenchError(
                f"data set {self.name} has no labels: {needed_for} needs them",
                "use it with `bench profile` for speed only, or pick a labelled data set such as digits",
            )

    def stats_for(self, in_chans: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Normalization statistics for ``in_chans`` channels (grey = mean of the RGB figures)."""
        if in_chans == len(self.mean):
            return self.mean, self.std
        if in_chans == 1:
            return (sum(self.mean) / len(self.mean),), (sum(self.std) / len(self.std),)
        if len(self.mean) == 1:
            return self.mean * in_chans, self.std * in_chans
        raise BenchError(
            f"data set {self.name} has {len(self.mean)}-channel statistics, not {in_chans}",
            "use 1 or 3 input channels",
        )


_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="digits",
        num_classes=10,
        in_chans=1,
        image_size=32,
        # Measured on all 1,797 images after scaling 0..16 to 0..1 and resizing 8x8 -> 32x32
        # (tests/bench/data/test_specs.py recomputes them).
        mean=(0.3053,),
        std=(0.3236,),
        needs_data_dir=False,
        has_labels=True,
        description="scikit-learn's bundled 8x8 handwritten digits (1,797 images), resized to 32x32",
        loader=load_digits,
        augmentation=Augmentation("light", translate_px=2),
    ),
    DatasetSpec(
        name="mnist",
        num_classes=10,
        in_chans=1,
        image_size=32,
        mean=(0.1307,),
        std=(0.3081,),
        needs_data_dir=True,
        has_labels=True,
        description="MNIST handwritten digits, 28x28 zero-padded to 32x32 as in LeNet-5",
        loader=TORCHVISION_FILES["mnist"],
        augmentation=Augmentation("light", translate_px=2),
        downloadable=True,
    ),
    DatasetSpec(
        name="fashion-mnist",
        num_classes=10,
        in_chans=1,
        image_size=32,
        mean=(0.2860,),
        std=(0.3530,),
        needs_data_dir=True,
        has_labels=True,
        description="Fashion-MNIST clothing images, 28x28 zero-padded to 32x32",
        loader=TORCHVISION_FILES["fashion-mnist"],
        augmentation=Augmentation("light", translate_px=2, hflip=True),
        downloadable=True,
    ),
    DatasetSpec(
        name="cifar10",
        num_classes=10,
        in_chans=3,
        image_size=32,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        needs_data_dir=True,
        has_labels=True,
        description="CIFAR-10 32x32 colour images, 10 classes",
        loader=TORCHVISION_FILES["cifar10"],
        augmentation=Augmentation("light", translate_px=4, hflip=True),  # RandomCrop(32, padding=4) + flip
        downloadable=True,
    ),
    DatasetSpec(
        name="cifar100",
        num_classes=100,
        in_chans=3,
        image_size=32,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        needs_data_dir=True,
        has_labels=True,
        description="CIFAR-100 32x32 colour images, 100 fine classes",
        loader=TORCHVISION_FILES["cifar100"],
        augmentation=Augmentation("light", translate_px=4, hflip=True),
        downloadable=True,
    ),
    DatasetSpec(
        name="imagenet",
        num_classes=1000,
        in_chans=3,
        image_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        needs_data_dir=True,
        has_labels=True,
        description="ImageNet-1k in ImageFolder layout, reference preprocessing (resize 256, crop 224)",
        loader=FolderLoader(infer=False),
    ),
    DatasetSpec(
        name="imagefolder",
        num_classes=None,
        in_chans=3,
        image_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        needs_data_dir=True,
        has_labels=True,
        description="train/<class>/*, val/<class>/* and optional test/<class>/* images of any PIL format; "
        "channels, size and statistics inferred from them",
        loader=FolderLoader(infer=True),
        chooses_channels=True,
        sized_by_model=True,
    ),
    DatasetSpec(
        name="synthetic",
        num_classes=1000,
        in_chans=3,
        image_size=224,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        needs_data_dir=False,
        has_labels=False,
        description="random tensors of any size and class count: speed only, no accuracy",
        loader=load_synthetic,
        chooses_channels=True,
        chooses_classes=True,
    ),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def list_datasets() -> list[str]:
    """Data set names in the order the contract lists them."""
    return list(DATASETS)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name``; an unknown name is a BenchError suggesting close names."""
    key = (name or "").strip().lower()
    if key in DATASETS:
        return DATASETS[key]
    raise BenchError(
        f"unknown data set {name!r}{suggest(key, DATASETS)}",
        "choose one of " + ", ".join(DATASETS),
    )
