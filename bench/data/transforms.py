"""Per data set preprocessing: augmentation for training, a deterministic path for evaluation.

Two pipelines cover every data set:

* in-memory ``uint8`` tensors at 32x32 (digits, MNIST, Fashion-MNIST, CIFAR): translation
  by random crop with padding (plus a horizontal flip where a flip keeps the label's
  meaning), a bilinear resize to the model's input size when it differs, normalization;
* PIL images read from folders (imagefolder, imagenet): the reference ImageNet recipe,
  ``RandomResizedCrop`` + flip for training, resize to ``size / 0.875`` and centre crop for
  evaluation (256/224; 342/299 for Inception-v3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torchvision.transforms import v2

Transform = Callable[..., torch.Tensor]

# The centre-crop fraction of the reference ImageNet evaluation (224 / 256).
EVAL_CROP_FRACTION = 0.875


@dataclass(frozen=True)
class Augmentation:
    """Label-preserving training augmentation for the 32x32 tensor data sets."""

    translate_px: int  # random crop after zero padding by this many pixels
    hflip: bool  # mirrored digits change meaning; mirrored shirts and planes do not


TENSOR_AUGMENTATIONS: dict[str, Augmentation] = {
    "digits": Augmentation(translate_px=2, hflip=False),
    "mnist": Augmentation(translate_px=2, hflip=False),
    "fashion-mnist": Augmentation(translate_px=2, hflip=True),
    "cifar10": Augmentation(translate_px=4, hflip=True),  # RandomCrop(32, padding=4) + flip
    "cifar100": Augmentation(translate_px=4, hflip=True),
}


def tensor_transforms(
    dataset: str,
    *,
    native_size: int,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> tuple[Transform, Transform]:
    """(train, eval) transforms for ``uint8`` CxHxW tensors of side ``native_size``."""
    augmentation = TENSOR_AUGMENTATIONS[dataset]
    to_float = v2.ToDtype(torch.float32, scale=True)
    finish: list[Callable[..., torch.Tensor]] = []
    if input_size != native_size:
        finish.append(v2.Resize((input_size, input_size), antialias=True))
    finish.append(v2.Normalize(mean=list(mean), std=list(std)))
    augment: list[Callable[..., torch.Tensor]] = [v2.RandomCrop(native_size, padding=augmentation.translate_px, fill=0)]
    if augmentation.hflip:
        augment.append(v2.RandomHorizontalFlip())
    return v2.Compose([to_float, *augment, *finish]), v2.Compose([to_float, *finish])


def folder_transforms(*, input_size: int, mean: Sequence[float], std: Sequence[float]) -> tuple[Transform, Transform]:
    """(train, eval) transforms for PIL images: the reference ImageNet preprocessing."""
    to_tensor = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    normalize = v2.Normalize(mean=list(mean), std=list(std))
    train = v2.Compose(
        [
            v2.RandomResizedCrop(input_size, antialias=True),
            v2.RandomHorizontalFlip(),
            *to_tensor,
            normalize,
        ]
    )
    evaluation = v2.Compose(
        [
            v2.Resize(eval_resize_size(input_size), antialias=True),
            v2.CenterCrop(input_size),
            *to_tensor,
            normalize,
        ]
    )
    return train, evaluation


def eval_resize_size(input_size: int) -> int:
    """Shorter side before the centre crop: 224 -> 256, 299 -> 342 (torchvision's figures)."""
    return int(round(input_size / EVAL_CROP_FRACTION))
