"""Per data set preprocessing: augmentation for training, a deterministic path for evaluation.

Three augmentations (``--augment``), each with or without horizontal flips (``--hflip``):

* ``light``: translation by random crop after zero padding (for image folders 1/16 of the
  side, 2 px at 32 as for the bundled digits: frame-filling digits shifted by 4 px lose
  strokes; LeNet-5 on scikit-learn's digits as 28x28 PNGs, 4 epochs: 97.5% test top-1 with
  2 px, 93.9% with 4 px), plus a flip where a flip keeps the label's meaning. The 32x32
  tensor data sets (digits, MNIST, Fashion-MNIST, CIFAR) and image folders of small images
  (shorter side at most :data:`SMALL_IMAGE_MAX`) default to it;
* ``imagenet``: the reference recipe, ``RandomResizedCrop`` + flip for training, resize to
  ``size / 0.875`` and centre crop for evaluation (256/224; 342/299 for Inception-v3): the
  ``imagenet`` data set and folders of large images;
* ``none``: the evaluation path for training too.

Two pipelines apply them: in-memory ``uint8`` tensors (a bilinear resize to the model's input
size when it differs, then normalization) and PIL images read from folders (small images are
resized whole to the input size and centre-cropped to a square).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torchvision.transforms import v2

from bench.errors import BenchError, suggest

Transform = Callable[..., torch.Tensor]

# The centre-crop fraction of the reference ImageNet evaluation (224 / 256).
EVAL_CROP_FRACTION = 0.875
AUGMENTS = ("none", "light", "imagenet")  # --augment choices
SMALL_IMAGE_MAX = 64  # image folders whose images' shorter side is at most this get `light`
TRANSLATE_FRACTION = 0.0625  # `light` on image folders: translation up to 1/16 of the side (2 px at 32)


@dataclass(frozen=True)
class Augmentation:
    """Label-preserving training augmentation: its kind, translation and flips."""

    kind: str = "light"  # none, light, imagenet
    translate_px: int = 0  # `light`: random crop after zero padding by this many pixels
    hflip: bool = False  # mirrored digits change meaning; mirrored shirts and planes do not

    def describe(self) -> str:
        """``light (pad-and-crop 4 px, no flip)``: what the user is told."""
        flip = "flip" if self.hflip else "no flip"
        if self.kind == "light":
            return f"light (pad-and-crop {self.translate_px} px, {flip})"
        if self.kind == "imagenet":
            return f"imagenet (random resized crop, {flip})"
        return "none" + (" (flip only)" if self.hflip else "")

    def key(self) -> dict[str, object]:
        """What a checkpoint key records of it."""
        return {"kind": self.kind, "translate_px": self.translate_px, "hflip": self.hflip}


IMAGENET_AUGMENTATION = Augmentation("imagenet", hflip=True)


def check_augment(augment: str | None) -> str | None:
    """``--augment``: one of :data:`AUGMENTS` (or None: the data set's choice); else a BenchError."""
    if augment is None or augment in AUGMENTS:
        return augment
    raise BenchError(f"unknown --augment {augment!r}{suggest(augment, AUGMENTS)}", "use " + ", ".join(AUGMENTS))


def choose_augmentation(
    default: Augmentation, augment: str | None, hflip: bool | None, *, translate_px: int
) -> Augmentation:
    """``default`` (the data set's), or the kind ``augment`` names (``light`` translating by
    ``translate_px`` unless the default is light already), with ``hflip`` overriding flips."""
    kind = check_augment(augment) or default.kind
    if kind == default.kind:
        chosen = default
    elif kind == "imagenet":
        chosen = IMAGENET_AUGMENTATION
    else:
        chosen = Augmentation(kind, translate_px=translate_px if kind == "light" else 0, hflip=False)
    return chosen if hflip is None else replace(chosen, hflip=hflip)


def folder_translation(input_size: int) -> int:
    """The `light` translation of an image folder at ``input_size``: 1/8 of the side, at least 1 px."""
    return max(1, round(input_size * TRANSLATE_FRACTION))


def tensor_transforms(
    augmentation: Augmentation,
    *,
    native_size: int,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> tuple[Transform, Transform]:
    """(train, eval) transforms for ``uint8`` CxHxW tensors of side ``native_size``."""
    if augmentation.kind == "imagenet":
        raise BenchError(
            f"--augment imagenet crops full-resolution photos; these are {native_size}x{native_size} images",
            "use --augment light (the default) or none",
        )
    to_float = v2.ToDtype(torch.float32, scale=True)
    finish: list[Callable[..., torch.Tensor]] = []
    if input_size != native_size:
        finish.append(v2.Resize((input_size, input_size), antialias=True))
    finish.append(v2.Normalize(mean=list(mean), std=list(std)))
    augment: list[Callable[..., torch.Tensor]] = []
    if augmentation.kind == "light":
        augment.append(v2.RandomCrop(native_size, padding=augmentation.translate_px, fill=0))
    if augmentation.hflip:
        augment.append(v2.RandomHorizontalFlip())
    return v2.Compose([to_float, *augment, *finish]), v2.Compose([to_float, *finish])


def folder_transforms(
    *,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    augmentation: Augmentation = IMAGENET_AUGMENTATION,
) -> tuple[Transform, Transform]:
    """(train, eval) transforms for PIL images: the reference ImageNet preprocessing for
    ``imagenet``, else the whole image resized to ``input_size`` (then ``light``'s translation)."""
    to_tensor = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    normalize = v2.Normalize(mean=list(mean), std=list(std))
    flip = [v2.RandomHorizontalFlip()] if augmentation.hflip else []
    if augmentation.kind == "imagenet":
        train = [v2.RandomResizedCrop(input_size, antialias=True), *flip]
        evaluation = [v2.Resize(eval_resize_size(input_size), antialias=True), v2.CenterCrop(input_size)]
    else:
        evaluation = [v2.Resize(input_size, antialias=True), v2.CenterCrop(input_size)]
        shift = (
            [v2.RandomCrop(input_size, padding=augmentation.translate_px, fill=0)]
            if augmentation.kind == "light"
            else []
        )
        train = [*evaluation, *shift, *flip]
    return v2.Compose([*train, *to_tensor, normalize]), v2.Compose([*evaluation, *to_tensor, normalize])


def eval_resize_size(input_size: int) -> int:
    """Shorter side before the centre crop: 224 -> 256, 299 -> 342 (torchvision's figures)."""
    return int(round(input_size / EVAL_CROP_FRACTION))
