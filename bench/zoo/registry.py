"""The model registry: plain builder functions plus their metadata, kept as data.

Modelled on timm's registry: ``@register_model(...)`` on a keyword-only builder records a
:class:`ModelSpec`; :func:`list_models` filters names with shell wildcards;
:func:`create_model` builds a model for a class count, channel count and input size and
attaches a :class:`ModelConfig` saying what was built (``model.bench_cfg``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from torch import nn

from bench.errors import BenchError, suggest

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
                f"{self.name} needs inputs of at least {self.min_input_size}x{self.min_input_size}, "
                f"got {size}x{size}",
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


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    *,
    family: str,
    year: int,
    paper: str,
    native_input_size: int,
    min_input_size: int,
    small_input: SmallInputPolicy,
    classifier: tuple[str, ...],
    small_input_note: str = "",
    references: tuple[Reference, ...] = (),
    norm: str | None = "bn",
    groups: tuple[str, ...] = ("all",),
    torchvision_name: str | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator recording a builder and its metadata; a name registered twice is an error."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        model_name = name or builder.__name__
        spec = ModelSpec(
            name=model_name,
            family=family,
            year=year,
            paper=paper,
            builder=builder,
            native_input_size=native_input_size,
            min_input_size=min_input_size,
            small_input=small_input,
            small_input_note=small_input_note,
            classifier=classifier,
            references=references,
            norm=norm,
            groups=groups,
            torchvision_name=torchvision_name,
        )
        add_spec(spec)
        return builder

    return decorate


def add_spec(spec: ModelSpec) -> None:
    """Register a ready-made spec (tests use this for deliberately broken models)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec


def remove_spec(name: str) -> None:
    """Unregister a model (for tests that register temporary models)."""
    _REGISTRY.pop(name, None)


def list_models(pattern: str | Iterable[str] = "*", *, group: str | None = None) -> list[str]:
    """Registered names matching shell-style ``pattern`` (or any of several), sorted."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    names = sorted(
        n for n, s in _REGISTRY.items() if group is None or group in s.groups
    )
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a registered or prefixed (``tv:``/``timm:``) model; unknown names raise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(EXTERNAL_PREFIXES):
        from bench.zoo.external import external_spec

        return external_spec(name)
    raise BenchError(
        f"unknown model {name!r}{suggest(name, _REGISTRY)}",
        "run `bench list` for the zoo, or prefix tv:/timm: for torchvision/timm models",
    )


def resolve_model_names(spec: str) -> list[str]:
    """Expand a CLI model spec: comma-separated names, wildcards, ``all`` or prefixed names."""
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part == "all":
            found = list_models(group="all")
        elif part.startswith(EXTERNAL_PREFIXES):
            get_model_spec(part)  # validates the name
            found = [part]
        elif any(ch in part for ch in "*?["):
            found = list_models(part)
            if not found:
                raise BenchError(
                    f"no model matches {part!r}", "run `bench list` to see the model names"
                )
        else:
            get_model_spec(part)
            found = [part]
        names.extend(n for n in found if n not in names)
    if not names:
        raise BenchError("no models given", "pass e.g. --models lenet5,resnet20 or --models all")
    return names


def create_model(
    name: str,
    *,
    num_classes: int = 1000,
    in_chans: int = 3,
    input_size: int | None = None,
    norm: str | None = None,
    dropout: float | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build ``name`` for ``num_classes`` classes and ``in_chans`` x ``input_size``^2 inputs.

    ``input_size`` defaults to the model's native size. Models whose policy is ``resize``
    are built for their minimum size when asked for less; ``model.bench_cfg.input_size``
    always gives the (C, H, W) the model must be fed. ``norm`` swaps the batch-norm layers
    for ``gn``/``ln``/``in``/``none`` and ``dropout`` sets the classifier's dropout
    (:mod:`bench.zoo.norm`); both are recorded in ``bench_cfg``, so every command that builds
    the model through here builds the same one.
    """
    from bench.zoo.norm import check_dropout, check_group_sizes, set_classifier_dropout, swap_kind, swap_norm

    if num_classes < 1:
        raise BenchError(f"num_classes must be positive, got {num_classes}")
    if in_chans < 1:
        raise BenchError(f"in_chans must be positive, got {in_chans}")
    spec = get_model_spec(name)
    swap = swap_kind(name, spec.norm, norm) if norm is not None else None
    if dropout is not None:
        dropout = check_dropout(dropout)
    requested = input_size or spec.native_input_size
    effective = spec.resolve_input_size(requested)

    def build() -> nn.Module:
        return spec.builder(num_classes=num_classes, in_chans=in_chans, input_size=effective, **kwargs)

    if swap is not None:  # the map sizes, from a shapes-only twin, before any weight is initialised
        from bench.zoo.catalog import structure_only

        check_group_sizes(structure_only(build), swap, (in_chans, effective, effective), model_name=name)
    model = build()
    if swap is not None:
        swap_norm(model, swap, model_name=name)
    if dropout is not None:
        set_classifier_dropout(model, dropout, spec.classifier, model_name=name)
    model.bench_cfg = ModelConfig(
        name=name,
        num_classes=num_classes,
        in_chans=in_chans,
        input_size=(in_chans, effective, effective),
        requested_input_size=requested,
        adaptation=spec.adaptation_for(requested),
        extra=dict(kwargs),
        norm=swap or spec.norm,
        dropout=dropout,
    )
    return model
