"""The contract's variant names and the plan of variants a run measures.

A variant is data: how much to prune (a channel ratio) and whether to quantize. Its name is
the user contract (``baseline``, ``pruned-50``, ``int8``, ``pruned-50+int8``): the number in
``pruned-N`` is the ratio in percent, so 0.3 is ``pruned-30`` and 0.125 ``pruned-12.5``.
Names and variants convert both ways through :func:`variant_name` and :func:`parse_variant`.

A normalization study (``bench run --norm bn,gn,ln,in``) adds ``norm-gn``, ``norm-ln``, ...:
the same architecture built with another normalization (:mod:`bench.zoo.norm`) and trained
from scratch with the baseline's recipe, measured like any variant. The model's own
normalization (batch norm) *is* the ``baseline``, so ``bn`` in the list adds nothing.
Compression applies to the baseline only: a norm variant is never pruned or quantized
(``pruned-50`` of a GN model would mix two studies in one number).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench.errors import BenchError
from compress.prune_target import parse_target, target_from_label

BASELINE = "baseline"
QUANT_SCHEMES: tuple[str, ...] = ("int8",)
_PRUNED_PREFIX = "pruned-"
_PRUNED_RE = re.compile(r"^pruned-(\d+(?:\.\d+)?)$")
_NORM_PREFIX = "norm-"


@dataclass(frozen=True)
class Variant:
    """One form of a model: ``prune_ratio`` channels removed, then ``quantize``; or, for a
    study, the model built with normalization ``norm`` instead of its own."""

    name: str
    prune_ratio: float | None = None
    quantize: str | None = None
    norm: str | None = None
    prune_target: str | None = None  # canonical goal text, ``speedup:2``, for ``pruned-2x``

    @property
    def is_baseline(self) -> bool:
        return self.prune_ratio is None and self.quantize is None and self.norm is None and self.prune_target is None

    @property
    def is_pruned(self) -> bool:
        return self.prune_ratio is not None or self.prune_target is not None

    @property
    def is_latency_pruned(self) -> bool:
        return self.prune_target is not None

    @property
    def is_quantized(self) -> bool:
        return self.quantize is not None


def variant_name(
    prune_ratio: float | None, quantize: str | None, norm: str | None = None, prune_target: str | None = None
) -> str:
    """The contract name: ``baseline``, ``pruned-30``, ``pruned-2x``, ``int8``, ``pruned-30+int8``, or ``norm-gn``."""
    if norm is not None:
        if prune_ratio is not None or quantize is not None or prune_target is not None:
            raise ValueError("a norm variant is never pruned or quantized")
        return _NORM_PREFIX + _study_norm(norm)
    if prune_ratio is not None and prune_target is not None:
        raise ValueError("a variant is pruned by a ratio or to a latency goal, not both")
    parts = []
    if prune_target is not None:
        parts.append(parse_target(prune_target).label)
    if prune_ratio is not None:
        check_ratio(prune_ratio, source=str(prune_ratio))
        percent = round(prune_ratio * 100, 6)  # 0.3 * 100 is 30.000000000000004
        parts.append(f"{_PRUNED_PREFIX}{percent:g}")
    if quantize is not None:
        parts.append(parse_quantize(quantize) or "")
    return "+".join(parts) if parts else BASELINE


def make_variant(
    prune_ratio: float | None = None,
    quantize: str | None = None,
    norm: str | None = None,
    prune_target: str | None = None,
) -> Variant:
    """A :class:`Variant` with its contract name filled in; ``prune_target`` is stored canonical
    (``latency:0.5`` -> ``speedup:2``), so a variant and its parsed name compare equal."""
    canonical = f"speedup:{parse_target(prune_target).speedup:g}" if prune_target is not None else None
    return Variant(variant_name(prune_ratio, quantize, norm, canonical), prune_ratio, quantize, norm, canonical)


def study_norms() -> tuple[str, ...]:
    """The normalizations a study variant can swap in: every kind but the baseline's own.

    :mod:`bench.zoo.norm` is imported here, not at the top: reading result files and
    writing reports needs variant names, not torch.
    """
    from bench.zoo.norm import NORM_KINDS, SWAPPABLE

    return tuple(kind for kind in NORM_KINDS if kind != SWAPPABLE)


def _study_norm(text: str) -> str:
    """``text`` as a normalization a study variant swaps in."""
    from bench.zoo.norm import parse_norm

    kind = parse_norm(text)
    if kind not in study_norms():
        raise ValueError(f"{kind} is the baseline's own normalization, not a variant")
    return kind


def parse_ratios(text: str, *, flag: str = "--prune") -> list[float]:
    """``"0.3,0.5"`` -> ``[0.3, 0.5]``; ``"none"`` -> ``[]``. Each ratio must lie in (0, 1)."""
    cleaned = (text or "").strip()
    if cleaned.lower() == "none":
        return []
    ratios: list[float] = []
    for part in cleaned.split(","):
        part = part.strip()
        try:
            ratio = float(part)
        except ValueError:
            raise BenchError(
                f"{flag} {text!r}: {part!r} is not a number",
                f"pass channel ratios in (0, 1) such as {flag} 0.3,0.5, or {flag} none",
            ) from None
        check_ratio(ratio, source=f"{flag} {part}")
        if ratio not in ratios:
            ratios.append(ratio)
    return ratios


def parse_quantize(text: str | None, *, flag: str = "--quantize") -> str | None:
    """``"int8"`` -> ``"int8"``; ``"none"`` or empty -> ``None``; anything else is an error."""
    cleaned = (text or "none").strip().lower()
    if cleaned == "none":
        return None
    if cleaned not in QUANT_SCHEMES:
        raise BenchError(
            f"{flag} {text!r} is not a supported quantization",
            f"use {flag} {' or '.join(QUANT_SCHEMES)} or {flag} none",
        )
    return cleaned


def parse_variant(name: str) -> Variant:
    """The inverse of :func:`variant_name`: ``"pruned-50+int8"`` -> Variant(ratio 0.5, int8)."""
    text = name.strip()
    if text == BASELINE:
        return make_variant()
    if text.startswith(_NORM_PREFIX) and text[len(_NORM_PREFIX) :] in study_norms():
        return make_variant(norm=text[len(_NORM_PREFIX) :])
    prune_ratio: float | None = None
    prune_target: str | None = None
    quantize: str | None = None
    for part in text.split("+"):
        match = _PRUNED_RE.match(part)
        target = target_from_label(part)
        if target is not None and prune_ratio is None and prune_target is None and quantize is None:
            prune_target = target.text
        elif match and prune_ratio is None and prune_target is None and quantize is None:
            prune_ratio = float(match.group(1)) / 100
            check_ratio(prune_ratio, source=f"variant {name!r}")
        elif part in QUANT_SCHEMES and quantize is None:
            quantize = part
        else:
            raise BenchError(
                f"unknown variant {name!r}",
                "variants are baseline, pruned-N (N = percent of channels removed), "
                "pruned-Xx (X = measured speedup goal), "
                f"int8, pruned-N+int8 and {', '.join(_NORM_PREFIX + k for k in study_norms())}",
            )
    return make_variant(prune_ratio, quantize, prune_target=prune_target)


def plan_variants(
    ratios: Iterable[float], quantize: str | None, norms: Iterable[str] = (), targets: Iterable[str] = ()
) -> list[Variant]:
    """Every variant a run measures, in a stable order.

    ``[0.5, 0.3], "int8"`` -> baseline, pruned-30, pruned-50, int8, pruned-30+int8,
    pruned-50+int8: float variants first (ratios ascending), then their quantized twins.
    ``norms`` (``["bn", "gn", "ln"]``) adds norm-gn, norm-ln right after the baseline, in
    the user's order; ``bn`` is the baseline itself (module doc). ``targets``
    (``["speedup:2"]``) adds pruned-2x after the uniform ratios, speedups ascending, and its
    int8 twin after theirs.
    """
    scheme = parse_quantize(quantize) if quantize is not None else None
    ordered = sorted(set(ratios))
    for ratio in ordered:
        check_ratio(ratio, source=str(ratio))
    from bench.zoo.norm import parse_norm

    studied = [kind for kind in dict.fromkeys(parse_norm(n) for n in norms) if kind in study_norms()]
    goals = sorted({parse_target(t).speedup for t in targets})
    goal_texts = [f"speedup:{g:g}" for g in goals]
    plan = [make_variant()] + [make_variant(norm=kind) for kind in studied] + [make_variant(r) for r in ordered]
    plan += [make_variant(prune_target=t) for t in goal_texts]
    if scheme is not None:
        plan += [make_variant(None, scheme)] + [make_variant(r, scheme) for r in ordered]
        plan += [make_variant(None, scheme, prune_target=t) for t in goal_texts]
    return plan


def check_ratio(ratio: float, *, source: str) -> None:
    """Raise the one-line error for a channel ratio outside (0, 1); ``source`` names where it came from."""
    if not (math.isfinite(ratio) and 0.0 < ratio < 1.0):
        raise BenchError(
            f"{source} is out of range: a channel pruning ratio is the fraction of channels "
            "removed and must lie strictly between 0 and 1",
            "pass e.g. --prune 0.3,0.5 (or --prune none)",
        )
