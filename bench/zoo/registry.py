"""The model registry: plain builder functions plus their metadata, kept as data.

Modelled on timm's registry: ``@register_model(...)`` on a keyword-only builder records a
:class:`~bench.zoo.spec.ModelSpec`; :func:`list_models` filters names with shell wildcards;
:func:`get_model_spec` also answers for ``tv:``/``timm:`` names (:mod:`bench.zoo.external`).
Building lives one level up, in :mod:`bench.zoo.builder`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable

from torch import nn

from bench.errors import BenchError, suggest
from bench.zoo.external import external_spec
from bench.zoo.spec import EXTERNAL_PREFIXES, ModelConfig, ModelSpec, Reference, SmallInputPolicy

__all__ = [
    "ModelConfig",
    "ModelSpec",
    "Reference",
    "add_spec",
    "get_model_spec",
    "list_models",
    "register_model",
    "remove_spec",
    "resolve_model_names",
]

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
    names = sorted(n for n, s in _REGISTRY.items() if group is None or group in s.groups)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a registered or prefixed (``tv:``/``timm:``) model; unknown names raise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(EXTERNAL_PREFIXES):
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
                raise BenchError(f"no model matches {part!r}", "run `bench list` to see the model names")
        else:
            get_model_spec(part)
            found = [part]
        names.extend(n for n in found if n not in names)
    if not names:
        raise BenchError("no models given", "pass e.g. --models lenet5,resnet20 or --models all")
    return names
