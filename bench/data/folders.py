"""Image folders: ``imagefolder`` and ``imagenet`` (``train/<class>/*``, ``val/<class>/*``).

The class list comes from ``train/``; ``val/`` and the optional ``test/`` must use those
class names. Without ``test/``, ``val/`` becomes the test split and a stratified validation
split is carved from ``train/`` (fixed seed), so model selection never sees test images.

Any format PIL can open is accepted (its registered extensions). Channels: grey images are
read as one channel when every sampled image is grey (modes ``1``, ``L``, ``LA``, ``I``,
``I;16``, ``F``), else as RGB; pass ``in_chans`` to force 1 or 3.
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

from PIL import Image

from bench.data.datasets import FileImages, RawSplits, stratified_split
from bench.errors import BenchError

VAL_FRACTION = 0.1
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
MODE_SAMPLE = 16  # images inspected to decide grey versus colour


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
    class_to_idx = {name: i for i, name in enumerate(classes)}
    extensions = image_extensions()
    train_samples = _scan(train_dir, class_to_idx, extensions, every_class=True)
    val_samples = _scan(val_dir, class_to_idx, extensions, every_class=False)
    test_samples = _scan(test_dir, class_to_idx, extensions, every_class=False) if test_dir else None

    channels = in_chans or _guess_channels(train_samples)
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


def _scan(
    split_dir: Path, class_to_idx: dict[str, int], extensions: frozenset[str], *, every_class: bool
) -> list[tuple[str, int]]:
    """(path, label) for each image under ``split_dir/<class>/``, sorted for a stable order."""
    folders = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
    unknown = [name for name in folders if name not in class_to_idx]
    if unknown:
        raise BenchError(
            f"{split_dir} has class folders that train/ lacks: {', '.join(unknown[:5])}",
            "use the same class folder names in every split",
        )
    if every_class:
        folders = list(class_to_idx)
    samples: list[tuple[str, int]] = []
    for name in folders:
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
    if not samples:
        raise BenchError(f"no images found in {split_dir}", "add images under <split>/<class>/")
    return samples


def _guess_channels(samples: list[tuple[str, int]]) -> int:
    """1 when every sampled image is grey (one per class first, up to MODE_SAMPLE), else 3."""
    first_per_class: dict[int, str] = {}
    for path, label in samples:
        first_per_class.setdefault(label, path)
    for path in list(first_per_class.values())[:MODE_SAMPLE]:
        try:
            with Image.open(path) as image:
                if image.mode not in GREY_MODES:
                    return 3
        except OSError as exc:
            raise BenchError(f"cannot read image {path} ({exc})", "remove or replace the file") from None
    return 1
