"""Image folders: ``imagefolder`` and ``imagenet`` (``train/<class>/*``, ``val/<class>/*``).

The class list comes from ``train/`` (at least two classes); ``val/`` and the optional ``test/``
must hold a folder, with images, for every one of them. Without ``test/``, ``val/`` becomes
the test split and a stratified validation split is carved from ``train/`` (fixed seed), so
model selection never sees test images.

Any format PIL can open is accepted (its registered extensions). ``imagenet`` is read with the
reference preprocessing (RGB, ImageNet statistics, ``imagenet`` augmentation). ``imagefolder``
infers from a bounded sample of training images (:data:`SAMPLE_IMAGES`, spread over the
classes): the channels (one when every sampled image is grey, modes ``1``, ``L``, ``LA``,
``I``, ``I;16``, ``F``; ``in_chans`` forces 1 or 3), the typical size (small images, shorter
side at most :data:`~bench.data.transforms.SMALL_IMAGE_MAX`, get the ``light`` augmentation,
larger ones ``imagenet``) and the per-channel mean and standard deviation; one line
(:attr:`RawSplits.inferred`) says what was found.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from bench.data.datasets import VAL_FRACTION, FileImages, LoadRequest, RawSplits, stratified_split
from bench.data.transforms import (
    IMAGENET_AUGMENTATION,
    SMALL_IMAGE_MAX,
    Augmentation,
    choose_augmentation,
    folder_transforms,
    folder_translation,
)
from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.data.specs import DatasetSpec

GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
SAMPLE_IMAGES = 64  # training images inspected for channels, size and statistics
STATS_SIDE = 128  # sampled images are shrunk to at most this side before their pixels are counted


@dataclass(frozen=True)
class FolderLoader:
    """The loader of an image-folder data set. ``infer``: channels, size and statistics come from
    the images (``imagefolder``); otherwise they are the spec's (``imagenet``: RGB, reference
    statistics and augmentation)."""

    infer: bool

    def __call__(self, spec: DatasetSpec, request: LoadRequest) -> RawSplits:
        if request.data_dir is None:  # load_splits checks this first; a direct call names it too
            raise BenchError(f"data set {spec.name} needs a data directory", "pass --data-dir DIR")
        raw = load_folder_raw(spec.name, request.data_dir, in_chans=request.in_chans if self.infer else 3)
        size = request.input_size
        if self.infer:
            found = inspect_images(raw.train[0].samples, channels=raw.in_chans)
            mean, std = found.mean, found.std
            default = (
                Augmentation("light", translate_px=folder_translation(size)) if found.small else IMAGENET_AUGMENTATION
            )
        else:
            found = None
            mean, std = spec.stats_for(raw.in_chans)
            default = IMAGENET_AUGMENTATION
        chosen = choose_augmentation(default, request.augment, request.hflip, translate_px=folder_translation(size))
        train_tf, eval_tf = folder_transforms(input_size=size, mean=mean, std=std, augmentation=chosen)
        identity = dict(raw.identity)
        if found is not None:
            identity["stats"] = [round(v, 4) for v in (*mean, *std)]
        if found is not None or chosen != default:
            identity["augment"] = chosen.key()
        inferred = None
        if found is not None:
            inferred = (
                f"{spec.name} {request.data_dir}: {len(raw.class_names)} classes, {found.describe()}; "
                f"training augmentation {chosen.describe()}, input {size}x{size}"
            )
        raw.train_transform, raw.eval_transform = train_tf, eval_tf
        raw.identity, raw.inferred = identity, inferred
        return raw


@dataclass(frozen=True)
class ImageSample:
    """What :func:`inspect_images` found in a sample of images."""

    count: int
    channels: int
    sizes: tuple[tuple[int, int], ...]  # (width, height) of each
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def typical(self) -> tuple[int, int]:
        """The median width and height."""
        return (
            int(statistics.median(w for w, _ in self.sizes)),
            int(statistics.median(h for _, h in self.sizes)),
        )

    @property
    def small(self) -> bool:
        return min(self.typical) <= SMALL_IMAGE_MAX

    def describe(self) -> str:
        width, height = self.typical
        size = f"{width}x{height}"
        if len(set(self.sizes)) > 1:
            low, high = min(self.sizes, key=lambda s: s[0] * s[1]), max(self.sizes, key=lambda s: s[0] * s[1])
            size = f"{low[0]}x{low[1]} to {high[0]}x{high[1]} (median {size})"
        colour = "1 channel (grey)" if self.channels == 1 else f"{self.channels} channels (colour)"
        stats = f"mean {_figures(self.mean)} std {_figures(self.std)}"
        return f"{colour}, images {size}, {stats} (from {self.count} sampled images)"


def inspect_images(samples: list[tuple[str, int]], *, channels: int | None = None) -> ImageSample:
    """Channels (``channels`` None: 1 when every sampled image is grey, else 3), sizes and per-channel
    mean/std (pixels scaled to 0..1) of up to :data:`SAMPLE_IMAGES` images spread over the classes."""
    picked = sample_paths(samples, SAMPLE_IMAGES)
    images = [_small_copy(path) for path in picked]
    channels = channels or (1 if all(mode in GREY_MODES for mode, _, _ in images) else 3)
    total = np.zeros(channels)
    squares = np.zeros(channels)
    pixels = 0
    for _, _, small in images:
        small = small.convert("L" if channels == 1 else "RGB")
        values = np.asarray(small, dtype=np.float64).reshape(-1, channels) / 255.0
        total += values.sum(axis=0)
        squares += (values**2).sum(axis=0)
        pixels += values.shape[0]
    mean = total / pixels
    std = np.sqrt(np.maximum(squares / pixels - mean**2, 0.0))
    std = np.where(std < 1e-3, 1.0, std)  # constant images: nothing to scale
    return ImageSample(
        count=len(picked),
        channels=channels,
        sizes=tuple(size for _, size, _ in images),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
    )


def sample_paths(samples: list[tuple[str, int]], limit: int) -> list[str]:
    """Up to ``limit`` paths, round-robin over the classes, evenly spaced within each (stable)."""
    by_class: dict[int, list[str]] = {}
    for path, label in samples:
        by_class.setdefault(label, []).append(path)
    per_class = max(1, -(-limit // max(1, len(by_class))))
    spread = {
        label: [paths[round(i * len(paths) / min(per_class, len(paths)))] for i in range(min(per_class, len(paths)))]
        for label, paths in by_class.items()
    }
    picked: list[str] = []
    for rank in range(per_class):
        for paths in spread.values():
            if rank < len(paths) and len(picked) < limit:
                picked.append(paths[rank])
    return picked


def _figures(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:.3f}" for v in values)


def _small_copy(path: str) -> tuple[str, tuple[int, int], Image.Image]:
    """``path``'s mode, size and a copy shrunk to at most :data:`STATS_SIDE` (pixels decoded)."""
    try:
        with Image.open(path) as image:
            mode, size = image.mode, image.size
            image.draft(None, (STATS_SIDE, STATS_SIDE))  # JPEG: decode at a reduced scale
            small = image.copy()
        small.thumbnail((STATS_SIDE, STATS_SIDE))
        return mode, size, small
    except OSError as exc:
        raise BenchError(f"cannot read image {path} ({exc})", "remove or replace the file") from None


def _image_mode(path: str) -> str:
    try:
        with Image.open(path) as image:
            return image.mode
    except OSError as exc:
        raise BenchError(f"cannot read image {path} ({exc})", "remove or replace the file") from None


def image_extensions() -> frozenset[str]:
    """Every file extension PIL has a decoder for (``.png``, ``.jpg``, ``.gif``, ``.webp``, ...)."""
    Image.init()
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def load_folder_raw(dataset: str, data_dir: Path, *, in_chans: int | None) -> RawSplits:
    """Scan ``data_dir``'s split folders into file lists; images are decoded on access."""
    if not data_dir.is_dir():
        raise BenchError(
            f"data directory {data_dir} does not exist",
            f"pass --data-dir pointing at a folder with train/<class>/ and val/<class>/ for {dataset}",
        )
    train_dir = _split_dir(data_dir, "train", required=True)
    val_dir = _split_dir(data_dir, "val", required=True)
    test_dir = _split_dir(data_dir, "test", required=False)

    classes = sorted(entry.name for entry in os.scandir(train_dir) if entry.is_dir())
    if not classes:
        raise BenchError(f"no class folders in {train_dir}", "put each class's images in train/<class>/")
    if len(classes) < 2:
        raise BenchError(
            f"{train_dir} holds one class folder ({classes[0]}): a classifier needs at least two classes",
            "add a folder of images for every other class under train/ (and val/)",
        )
    class_to_idx = {name: i for i, name in enumerate(classes)}
    extensions = image_extensions()
    train_samples = _scan(train_dir, class_to_idx, extensions)
    val_samples = _scan(val_dir, class_to_idx, extensions)
    test_samples = _scan(test_dir, class_to_idx, extensions) if test_dir else None

    channels = in_chans or inspect_channels(train_samples)
    if channels not in (1, 3):
        raise BenchError(f"in_chans must be 1 or 3 for image folders, got {channels}", "pass 1 or 3")
    loader = partial(open_image, mode="L" if channels == 1 else "RGB")

    train_source = FileImages(train_samples, loader)
    val_source = FileImages(val_samples, loader)
    if test_samples is None:
        train_idx, val_idx = stratified_split(train_source.targets(), (1 - VAL_FRACTION, VAL_FRACTION))
        splits = ((train_source, train_idx), (train_source, val_idx), (val_source, None))
    else:
        splits = ((train_source, None), (val_source, None), (FileImages(test_samples, loader), None))
    sizes = [len(split[0]) if split[1] is None else len(split[1]) for split in splits]
    return RawSplits(
        train=splits[0],
        val=splits[1],
        test=splits[2],
        class_names=classes,
        in_chans=channels,
        identity={
            "dataset": dataset,
            "data_dir": str(data_dir.resolve()),
            "sizes": sizes,
            "classes": hashlib.sha1("\n".join(classes).encode()).hexdigest()[:16],
        },
    )


def open_image(path: str, *, mode: str) -> Image.Image:
    """Decode ``path`` and convert it to ``mode`` (``L`` or ``RGB``); a bad file names itself."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except OSError as exc:
        raise BenchError(f"cannot read image {path} ({exc})", "remove or replace the file") from None


def _split_dir(root: Path, split: str, *, required: bool) -> Path | None:
    path = root / split
    if path.is_dir():
        return path
    if required:
        raise BenchError(
            f"{root} has no {split}/ folder",
            f"lay the data out as {root}/train/<class>/* and {root}/val/<class>/* (test/ optional)",
        )
    return None


def _scan(split_dir: Path, class_to_idx: dict[str, int], extensions: frozenset[str]) -> list[tuple[str, int]]:
    """(path, label) for each image under ``split_dir/<class>/``, sorted for a stable order;
    every class of train/ must have a folder with images here."""
    folders = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
    unknown = [name for name in folders if name not in class_to_idx]
    if unknown:
        raise BenchError(
            f"{split_dir} has class folders that train/ lacks: {', '.join(unknown[:5])}",
            "use the same class folder names in every split",
        )
    missing = [name for name in class_to_idx if name not in folders]
    if missing:
        more = f" ... ({len(missing)} in all)" if len(missing) > 5 else ""
        raise BenchError(
            f"{split_dir} lacks class folders that train/ has: {', '.join(missing[:5])}{more}",
            "give every split a folder of images for every class (a class never evaluated cannot be scored)",
        )
    samples: list[tuple[str, int]] = []
    for name in class_to_idx:
        found = sorted(
            os.path.join(dirpath, filename)
            for dirpath, _, filenames in os.walk(split_dir / name, followlinks=True)
            for filename in filenames
            if os.path.splitext(filename)[1].lower() in extensions
        )
        if not found:
            raise BenchError(
                f"class folder {split_dir / name} holds no images",
                "add images to it (any format PIL reads) or remove the folder",
            )
        samples.extend((path, class_to_idx[name]) for path in found)
    return samples


def inspect_channels(samples: list[tuple[str, int]]) -> int:
    """1 when every sampled image (see :func:`sample_paths`) is grey, else 3."""
    modes = (_image_mode(path) for path in sample_paths(samples, SAMPLE_IMAGES))
    return 1 if all(mode in GREY_MODES for mode in modes) else 3
