"""The knobs of the normalization and regularization studies: swap batch norm, set classifier dropout.

``--norm`` rebuilds a batch-norm model with another normalization, so the classic comparison
of BN, LN, IN and GN (Wu & He, "Group Normalization", ECCV 2018, Fig. 1 and Table 1) runs on
the zoo's own architectures. Every kind but ``none`` is written as a :class:`torch.nn.GroupNorm`,
since all three normalize over (channels of a group) x H x W per sample:

* ``gn``:   GroupNorm(G, C) with G = 32, or the largest divisor of C up to 32 (Wu & He's default;
  a 16-channel layer gets 16 groups, i.e. one channel each);
* ``ln``:   GroupNorm(1, C): layer norm over C, H and W, with one scale and shift *per channel*
  (``nn.LayerNorm([C, H, W])`` would learn one per element and tie the model to one input size);
* ``in``:   GroupNorm(C, C): instance norm with per-channel affine parameters (the same function
  as ``nn.InstanceNorm2d(C, affine=True)``, with the parameter names GN and BN use);
* ``none``: ``nn.Identity``: no normalization at all;
* ``bn``:   the model as built (every zoo model with normalization layers uses batch norm).

The new layers start from the batch norm's affine parameters (builders that zero a block's
last scale keep that initialization) and have no running statistics: GN, LN and IN normalize
each image by its own statistics, in training and evaluation alike. A swap under which a layer
would normalize groups of a single value (IN over the 1x1 maps of ResNet-18's ``layer4`` at
32x32) is refused: such a layer outputs its bias whatever its input.

``--dropout P`` sets ``p`` of the classifier's dropout: the ``nn.Dropout`` modules inside a
classifier module (``ModelSpec.classifier``) or beside one in the same container (VGG's and
AlexNet's ``classifier``, GoogLeNet's and Inception-v3's ``dropout`` before ``fc``). Models
without one (ResNets, DenseNet, LeNet-5, NiN, whose dropout sits between feature blocks) are
refused rather than given a new layer: their published form has no classifier dropout, and
adding one would change their state dicts and the comparison with the papers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from bench.errors import BenchError, suggest

NORM_KINDS: tuple[str, ...] = ("bn", "gn", "ln", "in", "none")
SWAPPABLE = "bn"  # the one normalization the swap replaces
GN_MAX_GROUPS = 32


def parse_norm(text: str, *, flag: str = "--norm") -> str:
    """``"GN"`` -> ``"gn"``; anything not in :data:`NORM_KINDS` is a one-line BenchError."""
    kind = (text or "").strip().lower()
    if kind not in NORM_KINDS:
        raise BenchError(
            f"{flag} {text!r} is not a normalization{suggest(kind, NORM_KINDS)}",
            f"use {flag} {'|'.join(NORM_KINDS)}",
        )
    return kind


def parse_norms(text: str, *, flag: str = "--norm") -> list[str]:
    """``"bn,gn,ln"`` -> ``["bn", "gn", "ln"]`` (each checked, repeats dropped)."""
    kinds = [parse_norm(part, flag=flag) for part in (text or "").split(",")]
    return list(dict.fromkeys(kinds))


def check_dropout(p: float, *, flag: str = "--dropout") -> float:
    """A dropout probability in [0, 1); anything else is a one-line BenchError."""
    if not (math.isfinite(p) and 0.0 <= p < 1.0):
        raise BenchError(f"{flag} {p:g} is out of range", f"pass a probability 0 <= P < 1, e.g. {flag} 0.3")
    return float(p)


def swap_kind(model_name: str, own_norm: str | None, requested: str) -> str | None:
    """The swap ``requested`` means for a model whose spec says ``own_norm``: None when it is the
    model's own normalization (nothing to swap); a BenchError when the model has none to swap."""
    kind = parse_norm(requested)
    if own_norm is None:
        raise BenchError(
            f"--norm {kind}: {model_name} has no normalization layers to swap",
            "use --norm with batch-norm models (e.g. resnet20, vgg16_bn, densenet121), or drop --norm",
        )
    if own_norm != SWAPPABLE:
        raise BenchError(
            f"--norm {kind}: {model_name} uses {own_norm} normalization, and only batch norm can be swapped",
            "drop --norm for this model",
        )
    return None if kind == own_norm else kind


def group_count(channels: int) -> int:
    """GN's groups for ``channels``: 32, or the largest divisor of ``channels`` below it."""
    return next(g for g in range(min(GN_MAX_GROUPS, channels), 0, -1) if channels % g == 0)


def groups_of(kind: str, channels: int) -> int | None:
    """The GroupNorm groups ``kind`` uses over ``channels`` channels; None for ``none``."""
    if kind == "none":
        return None
    if kind not in ("gn", "ln", "in"):
        raise ValueError(f"no layer to build for norm kind {kind!r}")
    return {"gn": group_count(channels), "ln": 1, "in": channels}[kind]


def norm_layer(kind: str, channels: int) -> nn.Module:
    """A fresh normalization layer of ``kind`` (not ``bn``) over ``channels`` channels."""
    groups = groups_of(kind, channels)
    return nn.Identity() if groups is None else nn.GroupNorm(groups, channels)


def check_group_sizes(probe: nn.Module, kind: str, input_shape: tuple[int, int, int], *, model_name: str) -> None:
    """Refuse a swap under which some layer would normalize groups of one value.

    ``probe`` is the batch-norm model (on the meta device: shapes only). Instance norm, or a
    group norm with one channel per group, over a 1x1 map (ResNet-18's ``layer4`` at 32x32)
    divides a single value by its own deviation: the output is the bias, whatever the input,
    so the network cannot learn; torch refuses such a layer at batch size 1 anyway.
    """
    sizes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            sizes[name] = tuple(output.shape[1:])

        return hook

    norms = {n: m for n, m in probe.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    handles = [module.register_forward_hook(record(name)) for name, module in norms.items()]
    try:
        with torch.no_grad():
            probe.eval()(torch.zeros(1, *input_shape, device=next(probe.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    groups = {n: groups_of(kind, shape[0]) for n, shape in sizes.items()}
    single = [n for n, shape in sizes.items() if groups[n] and shape[0] // groups[n] * math.prod(shape[1:]) == 1]
    if single:
        _, h, w = input_shape
        raise BenchError(
            f"--norm {kind} would normalize single values in {model_name} at {h}x{w} inputs: "
            f"{len(single)} layer(s) see 1x1 maps ({single[0]}, ...) and would output a constant",
            "pass a larger --input-size, or use --norm ln (one group per layer) on this model",
        )


def swap_norm(model: nn.Module, kind: str, *, model_name: str = "the model") -> int:
    """Replace every ``nn.BatchNorm2d`` of ``model`` by a ``kind`` layer, in place; returns how many.

    Subclasses of batch norm (timm's BatchNormAct2d fuses an activation) and 1-d/3-d batch norms
    are refused rather than half-swapped.
    """
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    odd = sorted({type(m).__name__ for _, m in targets if type(m) is not nn.BatchNorm2d})
    if odd:
        raise BenchError(
            f"--norm {kind}: {model_name} has {', '.join(odd)} layers, and only plain BatchNorm2d can be swapped",
            "drop --norm for this model",
        )
    if not targets:
        raise BenchError(f"--norm {kind}: {model_name} has no BatchNorm2d layer to swap", "drop --norm for this model")
    for name, old in targets:
        new = norm_layer(kind, old.num_features)
        if isinstance(new, nn.GroupNorm) and old.affine:
            new.weight.data.copy_(old.weight.data)
            new.bias.data.copy_(old.bias.data)
        model.set_submodule(name, new)
    return len(targets)


def classifier_dropouts(model: nn.Module, classifier: Iterable[str]) -> list[str]:
    """Names of the ``nn.Dropout`` modules in or beside the ``classifier`` modules (module doc)."""
    found: dict[str, None] = {}
    for head in classifier:
        inside = [f"{head}.{name}" for name, _ in model.get_submodule(head).named_modules() if name]
        parent = head.rpartition(".")[0]
        beside = [_join(parent, name) for name, _ in model.get_submodule(parent).named_children()]
        for name in inside + beside:
            if isinstance(model.get_submodule(name), nn.Dropout):
                found[name] = None
    return list(found)


def set_classifier_dropout(
    model: nn.Module, p: float, classifier: Iterable[str], *, model_name: str = "the model"
) -> list[str]:
    """Set ``p`` on every classifier dropout of ``model``; returns their names, or raises when none."""
    check_dropout(p)
    names = classifier_dropouts(model, classifier)
    if not names:
        raise BenchError(
            f"--dropout: {model_name} has no dropout before its classifier",
            "use --dropout with models that have one (vgg*, alexnet, zfnet, googlenet, inception_v3), or drop it",
        )
    for name in names:
        model.get_submodule(name).p = p
    return names


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child
