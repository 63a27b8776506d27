"""Latency goals for pruning (``--prune-target speedup:2`` or ``latency:0.5``).

A uniform ratio says how many channels go; a target says how much faster the pruned model
must run on the device being measured, and a search (latency-aware pruning) picks the
per-group widths that reach it. Both spellings reduce to one number, the wanted speedup
over the baseline, so the variant name (``pruned-2x``, ../shared/CONTRACT.md) is the same
whichever spelling the user chose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.errors import BenchError

_FIX = "pass --prune-target speedup:X (X > 1, e.g. speedup:2) or latency:F (0 < F < 1, e.g. latency:0.5)"
_SUFFIX = "x"


@dataclass(frozen=True)
class PruneTarget:
    """A wanted measured speedup over the baseline; ``text`` is how the user spelled it."""

    speedup: float
    text: str

    @property
    def label(self) -> str:
        """The contract's name part: 2.0 -> ``pruned-2x``, 2.5 -> ``pruned-2.5x``."""
        return f"pruned-{round(self.speedup, 6):g}{_SUFFIX}"


def parse_target(text: str, *, flag: str = "--prune-target") -> PruneTarget:
    """``"speedup:2"`` -> PruneTarget(2.0); ``"latency:0.5"`` -> PruneTarget(2.0)."""
    cleaned = (text or "").strip().lower()
    kind, sep, value = cleaned.partition(":")
    if not sep or kind not in ("speedup", "latency"):
        raise BenchError(f"{flag} {text!r} is not a latency goal", _FIX)
    try:
        number = float(value)
    except ValueError:
        raise BenchError(f"{flag} {text!r}: {value!r} is not a number", _FIX) from None
    if kind == "speedup" and not (math.isfinite(number) and number > 1.0):
        raise BenchError(f"{flag} {text!r}: a speedup must be a finite number above 1", _FIX)
    if kind == "latency" and not (0.0 < number < 1.0):
        raise BenchError(f"{flag} {text!r}: a latency fraction must lie strictly between 0 and 1", _FIX)
    speedup = number if kind == "speedup" else 1.0 / number
    return PruneTarget(round(speedup, 6), f"{kind}:{value}")


def parse_targets(text: str | None, *, flag: str = "--prune-target") -> list[PruneTarget]:
    """A comma list of goals, duplicates (by speedup) dropped; ``none`` or empty -> ``[]``."""
    cleaned = (text or "none").strip()
    if cleaned.lower() == "none":
        return []
    targets: dict[float, PruneTarget] = {}
    for part in cleaned.split(","):
        target = parse_target(part, flag=flag)
        targets.setdefault(target.speedup, target)
    return list(targets.values())


def target_from_label(label: str) -> PruneTarget | None:
    """The inverse of :attr:`PruneTarget.label` for ``pruned-2x``; ``None`` if not a target name."""
    if not (label.startswith("pruned-") and label.endswith(_SUFFIX)):
        return None
    try:
        speedup = float(label[len("pruned-") : -len(_SUFFIX)])
    except ValueError:
        return None
    if not (math.isfinite(speedup) and speedup > 1.0):
        return None
    return PruneTarget(speedup, f"speedup:{speedup:g}")
