"""What is known about a model before it is built: plain data, the zoo's leaf module.

:class:`ModelSpec` (metadata next to each builder, recorded by ``@register_model``),
:class:`Reference` (published figures the tests check built models against) and
:class:`ModelConfig` (what was built, as ``model.bench_cfg``). Imports nothing of the zoo, so
the registry, the builder and ``external`` can all depend on it, as timm's ``_registry``
sits under ``_builder``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from torch import nn

from bench.errors import BenchError

SmallInputPolicy = Literal["native", "adapt", "resize"]
EXTERNAL_PREFIXES = ("tv:", "timm:")
FULL_RESOLUTION = 224  # data sets at least this large are cropped to the model's native size


@dataclass(frozen=True)
class Reference:
    """A published figure for a model: what a built model is checked against."""

    params: int | None
    gmacs: float | None  # torchvision's "GFLOPS" column counts multiply-accumulates
    num_classes: int
    input_size: int
    source: str
    in_chans: int = 3
    note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything known about a model before it is built.

    ``small_input`` says what happens to inputs smaller than ``native_input_size``:
    ``native`` - the architecture runs on them unchanged (global pooling);
    ``adapt``  - the builder switches to a documented small-input form (``small_input_note``);
    ``resize`` - inputs are resized up to ``min_input_size`` by the data pipeline.
    """

    name: str
    family: str
    year: int
    paper: str
    builder: Callable[..., nn.Module]
    native_input_size: int
    min_input_size: int
    small_input: SmallInputPolicy
    small_input_note: str
    classifier: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    norm: str | None = "bn"  # the normalization layers the model uses, None if it has none
    groups: tuple[str, ...] = ("all",)
    torchvision_name: str | None = None  # whose torchvision ImageNet weights fit this model

    def resolve_input_size(self, size: int | None) -> int:
        """The spatial size the model is built for (and the data resized to) for ``size``."""
        if size is None:
            return self.native_input_size
        if size < 1:
            raise BenchError(f"input size {size} is not positive", "pass a size such as 32 or 224")
        if size < self.min_input_size:
            if self.small_input == "resize":
                return self.min_input_size
            raise BenchError(
                f"{self.name} needs inputs of at least {self.min_input_size}x{self.min_input_size}, got {size}x{size}",
                f"use --input-size {self.min_input_size} or larger",
            )
        return size

    def input_size_for_data(self, image_size: int) -> int:
        """The ``input_size`` to ask :func:`create_model` for, given data of ``image_size`` images.

        Full-resolution data (``image_size`` >= 224: ImageNet-style folders, cropped by the
        pipeline) is fed at the model's native size when that is larger, as the reference
        evaluation does (Inception-v3: 299). Smaller images are requested at their own size;
        :meth:`resolve_input_size` then applies the small-input policy (``resize``: up to
        the minimum), so ``model.bench_cfg`` still records the resize.
        """
        if image_size >= FULL_RESOLUTION and self.native_input_size > image_size:
            return self.native_input_size
        return image_size

    def adaptation_for(self, size: int) -> str:
        """Human-readable note of what the model does at requested input ``size``."""
        effective = self.resolve_input_size(size)
        if effective != size:
            return f"resized {size}->{effective}"
        if size < self.native_input_size and self.small_input == "adapt":
            return self.small_input_note
        return ""

    def describe(self) -> dict[str, Any]:
        """Plain-data view of the spec (no builder), for JSON output."""
        data = asdict(self)
        data.pop("builder")
        return data


@dataclass(frozen=True)
class ModelConfig:
    """What :func:`create_model` built, attached to the model as ``model.bench_cfg``."""

    name: str
    num_classes: int
    in_chans: int
    input_size: tuple[int, int, int]  # (C, H, W) the model is fed
    requested_input_size: int
    adaptation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    norm: str | None = None  # the normalization the model has (ModelSpec.norm, or what --norm swapped in)
    dropout: float | None = None  # the classifier dropout set by --dropout; None: the builder's own
