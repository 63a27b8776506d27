"""The contract's variant names and the plan of variants a run measures.

A variant is data: how much to prune (a channel ratio) and whether to quantize. Its name is
the user contract (``baseline``, ``pruned-50``, ``int8``, ``pruned-50+int8``): the number in
``pruned-N`` is the ratio in percent, so 0.3 is ``pruned-30`` and 0.125 ``pruned-12.5``.
Names and variants convert both ways through :func:`variant_name` and :func:`parse_variant`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench.errors import BenchError

BASELINE = "baseline"
QUANT_SCHEMES: tuple[str, ...] = ("int8",)
_PRUNED_PREFIX = "pruned-"
_PRUNED_RE = re.compile(r"^pruned-(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Variant:
    """One compressed form of a model: ``prune_ratio`` channels removed, then ``quantize``."""

    name: str
    prune_ratio: float | None = None
    quantize: str | None = None

    @property
    def is_baseline(self) -> bool:
        return self.prune_ratio is None and self.quantize is None

    @property
    def is_pruned(self) -> bool:
        return self.prune_ratio is not None

    @property
    def is_quantized(self) -> bool:
        return self.quantize is not None


def variant_name(prune_ratio: float | None, quantize: str | None) -> str:
    """The contract name: ``baseline``, ``pruned-30``, ``int8`` or ``pruned-30+int8``."""
    parts = []
    if prune_ratio is not None:
        check_ratio(prune_ratio, source=str(prune_ratio))
        percent = round(prune_ratio * 100, 6)  # 0.3 * 100 is 30.000000000000004
        parts.append(f"{_PRUNED_PREFIX}{percent:g}")
    if quantize is not None:
        parts.append(parse_quantize(quantize) or "")
    return "+".join(parts) if parts else BASELINE


def make_variant(prune_ratio: float | None = None, quantize: str | None = None) -> Variant:
    """A :class:`Variant` with its contract name filled in."""
    return Variant(variant_name(prune_ratio, quantize), prune_ratio, quantize)


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
    prune_ratio: float | None = None
    quantize: str | None = None
    for part in text.split("+"):
        match = _PRUNED_RE.match(part)
        if match and prune_ratio is None and quantize is None:
            prune_ratio = float(match.group(1)) / 100
            check_ratio(prune_ratio, source=f"variant {name!r}")
        elif part in QUANT_SCHEMES and quantize is None:
            quantize = part
        else:
            raise BenchError(
                f"unknown variant {name!r}",
                "variants are baseline, pruned-N (N = percent of channels removed), "
                "int8 and pruned-N+int8",
            )
    return make_variant(prune_ratio, quantize)


def plan_variants(ratios: Iterable[float], quantize: str | None) -> list[Variant]:
    """Every variant a run measures, in a stable order.

    ``[0.5, 0.3], "int8"`` -> baseline, pruned-30, pruned-50, int8, pruned-30+int8,
    pruned-50+int8: float variants first (ratios ascending), then their quantized twins.
    """
    scheme = parse_quantize(quantize) if quantize is not None else None
    ordered = sorted(set(ratios))
    for ratio in ordered:
        check_ratio(ratio, source=str(ratio))
    plan = [make_variant()] + [make_variant(r) for r in ordered]
    if scheme is not None:
        plan += [make_variant(None, scheme)] + [make_variant(r, scheme) for r in ordered]
    return plan


def check_ratio(ratio: float, *, source: str) -> None:
    """Raise the one-line error for a channel ratio outside (0, 1); ``source`` names where it came from."""
    if not (math.isfinite(ratio) and 0.0 < ratio < 1.0):
        raise BenchError(
            f"{source} is out of range: a channel pruning ratio is the fraction of channels "
            "removed and must lie strictly between 0 and 1",
            "pass e.g. --prune 0.3,0.5 (or --prune none)",
        )
