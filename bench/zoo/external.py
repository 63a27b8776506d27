"""Any torchvision or timm classifier by prefixed name: ``tv:NAME`` and ``timm:NAME``.

:func:`external_spec` turns the name into a :class:`ModelSpec` built from what the library
itself publishes, offline: torchvision's default-weights metadata (``min_size``,
``num_params``, ``_ops``, the evaluation crop size) and timm's pretrained config (input
size, ``min_input_size``, ``fixed_input_size``, paper). Builders always create
untrained models (``weights=None`` / ``pretrained=False``): nothing is downloaded.

Inputs smaller than a model's minimum are resized up to it (policy ``resize``). Where timm
publishes no minimum and the input size is not fixed, the minimum is the smallest square
input the architecture accepts, found by shape propagation on the meta device (a binary
search that assumes a size that works keeps working when larger, true of the CNNs). The
classifier (the layer pruning must keep) is the last Linear or Conv2d whose output width is
the class count, and ``norm`` the first of BatchNorm/LayerNorm/GroupNorm the model uses,
both read off a structure-only build. Specs are cached: repeated look-ups cost nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError, suggest
from bench.zoo.adapt import first_conv_name, set_in_chans
from bench.zoo.references import torchvision_reference
from bench.zoo.spec import ModelSpec, Reference
from bench.zoo.structure import structure_only

PROBE_CLASSES = 1000  # class count of the structure-only builds that find the classifier
# Inference-time defaults for torchvision models with auxiliary training heads: without them
# the model returns a tuple in training mode and builds its aux classifiers for nothing.
TORCHVISION_DEFAULTS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


@functools.cache
def external_spec(name: str) -> ModelSpec:
    """The spec of ``tv:NAME`` or ``timm:NAME``; unknown names raise with close names suggested."""
    prefix, _, model_name = name.partition(":")
    if prefix == "tv":
        return _torchvision_spec(name, model_name)
    if prefix == "timm":
        return _timm_spec(name, model_name)
    raise BenchError(f"unknown model prefix in {name!r}", "write tv:NAME or timm:NAME")


def _classifier_names(model: nn.Module, num_classes: int) -> tuple[str, ...]:
    last = None
    for module_name, module in model.named_modules():
        if (
            isinstance(module, nn.Linear)
            and module.out_features == num_classes
            or isinstance(module, nn.Conv2d)
            and module.out_channels == num_classes
        ):
            last = module_name
    return (last,) if last else ()


def _norm_kind(model: nn.Module) -> str | None:
    kinds = (
        (nn.modules.batchnorm._BatchNorm, "bn"),
        (nn.LayerNorm, "ln"),
        (nn.GroupNorm, "gn"),
    )
    for norm_type, kind in kinds:
        if any(isinstance(m, norm_type) for m in model.modules()):
            return kind
    return None


def _unknown(name: str, library: str, choices: list[str], listing: str) -> BenchError:
    return BenchError(
        f"unknown {library} model {name!r}{suggest(name, choices)}",
        f"pick a name from {listing}",
    )


def _external_spec(
    name: str,
    *,
    family: str,
    paper: str,
    builder: Callable[..., nn.Module],
    native: int,
    minimum: int,
    references: tuple[Reference, ...] = (),
    torchvision_name: str | None = None,
) -> ModelSpec:
    model = structure_only(lambda: builder(num_classes=PROBE_CLASSES, in_chans=3, input_size=native))
    return ModelSpec(
        name=name,
        family=family,
        year=0,  # unknown: the libraries do not record it
        paper=paper,
        builder=builder,
        native_input_size=native,
        min_input_size=minimum,
        small_input="resize",
        small_input_note=f"resized up to {minimum}x{minimum}, the smallest input it accepts",
        classifier=_classifier_names(model, PROBE_CLASSES),
        references=references,
        norm=_norm_kind(model),
        groups=(),
        torchvision_name=torchvision_name,
    )


def _torchvision_spec(name: str, model_name: str) -> ModelSpec:
    import torchvision
    from torchvision.models import get_model_weights

    choices = torchvision.models.list_models(module=torchvision.models)
    if model_name not in choices:
        raise _unknown(model_name, "torchvision", choices, "torchvision.models.list_models()")
    weights = get_model_weights(model_name).DEFAULT
    meta = weights.meta
    native = int(weights.transforms.keywords.get("crop_size", 224))
    reference = torchvision_reference(
        str(weights), params=meta["num_params"], gmacs=meta.get("_ops"), input_size=native
    )
    return _external_spec(
        name,
        family="torchvision",
        paper=f"torchvision.models.{model_name}",
        builder=functools.partial(_build_torchvision, model_name),
        native=native,
        minimum=int(meta["min_size"][0]),
        references=(reference,),
        torchvision_name=model_name,
    )


def _build_torchvision(
    model_name: str, *, num_classes: int, in_chans: int, input_size: int, **kwargs: Any
) -> nn.Module:
    import torchvision

    settings = {**TORCHVISION_DEFAULTS.get(model_name, {}), **kwargs}
    if model_name.startswith("vit_"):
        settings.setdefault("image_size", input_size)  # ViT's position embedding fixes the size
    model = torchvision.models.get_model(model_name, weights=None, num_classes=num_classes, **settings)
    return set_in_chans(model, first_conv_name(model), in_chans)


def _timm_spec(name: str, model_name: str) -> ModelSpec:
    import timm
    from timm.models import get_pretrained_cfg

    choices = timm.list_models()
    if model_name not in choices:
        raise _unknown(model_name, "timm", choices, "timm.list_models()")
    cfg = get_pretrained_cfg(model_name)
    native = int(cfg.input_size[-1]) if cfg else 224
    builder = functools.partial(_build_timm, model_name)
    if cfg and cfg.min_input_size:
        minimum = int(cfg.min_input_size[-1])
    elif cfg and cfg.fixed_input_size:
        minimum = native
    else:
        minimum = smallest_accepted_size(builder, native)
    return _external_spec(
        name,
        family="timm",
        paper=(cfg.paper_name or cfg.paper_ids or f"timm {model_name}") if cfg else f"timm {model_name}",
        builder=builder,
        native=native,
        minimum=minimum,
    )


def _build_timm(model_name: str, *, num_classes: int, in_chans: int, input_size: int, **kwargs: Any) -> nn.Module:
    import timm

    del input_size  # timm models with a fixed size are fed their native size (min = native)
    return timm.create_model(model_name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs)


def smallest_accepted_size(builder: Callable[..., nn.Module], upper: int) -> int:
    """The smallest square side (<= ``upper``) a forward pass accepts, by binary search on meta."""
    model = structure_only(lambda: builder(num_classes=PROBE_CLASSES, in_chans=3, input_size=upper))
    model.eval()
    device = next(model.parameters()).device

    def accepts(size: int) -> bool:
        try:
            with torch.no_grad():
                model(torch.empty(1, 3, size, size, device=device))
        except (RuntimeError, ValueError, AssertionError, TypeError, NotImplementedError):
            return False
        return True

    if not accepts(upper):
        return upper
    low, high = 1, upper  # invariant: `high` is accepted
    while low < high:
        middle = (low + high) // 2
        if accepts(middle):
            high = middle
        else:
            low = middle + 1
    return high
