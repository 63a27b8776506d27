"""Building models: :func:`create_model`, the one way every command builds a zoo model.

Above the registry (names to specs) and :mod:`bench.zoo.norm` (the study knobs it applies),
as timm's ``_builder`` sits above ``_registry``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from bench.errors import BenchError
from bench.zoo.norm import check_dropout, check_group_sizes, set_classifier_dropout, swap_kind, swap_norm
from bench.zoo.registry import get_model_spec
from bench.zoo.spec import ModelConfig
from bench.zoo.structure import structure_only


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


def check_build_options(
    name: str,
    *,
    norm: str | None = None,
    dropout: float | None = None,
    in_chans: int = 3,
    input_size: int | None = None,
) -> None:
    """Raise the BenchError that building ``name`` with ``norm``/``dropout`` would raise, building
    it on the meta device only (no memory, no initialization): commands check every model first."""
    if norm is None and dropout is None:
        return
    structure_only(lambda: create_model(name, in_chans=in_chans, input_size=input_size, norm=norm, dropout=dropout))
