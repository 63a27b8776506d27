"""The report's answer: which variant to deploy, and which accelerated rows did not pay off.

:func:`fastest_within_budget` picks, per model, device and batch size, the fastest ok row whose
top-1 is at most ``max_drop`` points below its baseline's (by speed alone when the run measured
no accuracy), with its speedup and size reduction against the baseline's eager fp32 row.
:func:`slower_than_eager_float` finds every int8, compiled or other-runtime row slower than the
eager float row of the same variant (``pruned-50+int8`` meets ``pruned-50``). Rows without a
``runtime`` field count as eager. Everything comes from the rows; nothing is re-measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.results.schema import Status
from compress.variants import BASELINE, QUANT_SCHEMES
from reports.tables import Row, is_eager_float, ok_rows, reference_for, runtime_of

_SLACK = 1e-9  # a drop of exactly max_drop points is within the budget


def float_variant(variant: str) -> str:
    """The variant before quantization: ``pruned-50+int8`` -> ``pruned-50``, ``int8`` -> ``baseline``."""
    parts = [part for part in variant.split("+") if part not in QUANT_SCHEMES]
    return "+".join(parts) if parts else BASELINE


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if not numerator or not denominator else float(numerator) / float(denominator)


@dataclass(frozen=True)
class Pick:
    """The fastest row of one model on one device and batch size that stays within the budget."""

    row: Row
    reference: Row  # the baseline's eager fp32 row measured like ``row``
    top1: float | None
    base_top1: float | None

    @property
    def by_speed_only(self) -> bool:
        """True when the baseline has no top-1 (a speed-only run): nothing limited the choice."""
        return self.base_top1 is None

    @property
    def speedup(self) -> float:
        return self.reference["latency_ms_p50"] / self.row["latency_ms_p50"]

    @property
    def size_reduction(self) -> float | None:
        return _ratio(self.reference.get("size_mb"), self.row.get("size_mb"))

    @property
    def top1_delta(self) -> float | None:
        return None if self.top1 is None or self.base_top1 is None else self.top1 - self.base_top1

    @property
    def choice(self) -> tuple[str, str | None, str]:
        """What a deployer would pick: variant, precision, runtime."""
        return self.row["variant"], self.row.get("precision"), runtime_of(self.row)


def _top1_of(rows: Sequence[Row]) -> dict[tuple[str, str, str | None, str], float]:
    """Top-1 per model, variant, precision and runtime: measured once, repeated on other devices' rows."""
    found: dict[tuple[str, str, str | None, str], float] = {}
    for row in rows:
        if row.get("top1") is not None:
            found.setdefault((row["model"], row["variant"], row.get("precision"), runtime_of(row)), row["top1"])
    return found


def _timed(rows: Iterable[Row]) -> list[Row]:
    return [row for row in ok_rows(rows) if row.get("latency_ms_p50") and row.get("batch_size") is not None]


def fastest_within_budget(rows: Iterable[Row], max_drop: float) -> list[Pick]:
    """One :class:`Pick` per model, device and batch size that has a baseline eager fp32 row.

    Models and devices in order of appearance, batch sizes ascending; CPU rows at another thread
    count are a group of their own.
    """
    timed = _timed(rows)
    top1 = _top1_of(timed)

    def accuracy(row: Row) -> float | None:
        return top1.get((row["model"], row["variant"], row.get("precision"), runtime_of(row)))

    baselines = [row for row in timed if row["variant"] == BASELINE]
    groups: dict[tuple[str, str, int, int | None], list[Row]] = {}
    for row in timed:
        groups.setdefault((row["model"], row["device"], row["batch_size"], row.get("threads")), []).append(row)
    models = list(dict.fromkeys(row["model"] for row in timed))
    devices = list(dict.fromkeys(row["device"] for row in timed))
    picks = []

    def order(key: tuple[str, str, int, int | None]) -> tuple[int, int, int, int]:
        return models.index(key[0]), devices.index(key[1]), key[2], key[3] or 0

    for _, group in sorted(groups.items(), key=lambda item: order(item[0])):
        reference = reference_for(group[0], baselines)
        if reference is None or not is_eager_float(reference):
            continue
        budget = accuracy(reference)
        eligible = [
            row
            for row in group
            if row is reference
            or budget is None
            or (accuracy(row) is not None and accuracy(row) >= budget - max_drop - _SLACK)
        ]
        best = min(eligible, key=lambda row: row["latency_ms_p50"])
        picks.append(Pick(best, reference, accuracy(best), budget))
    return picks


def group_batches(picks: Sequence[Pick]) -> list[list[Pick]]:
    """Picks of one model and device that chose the same thing at every batch size, as one group.

    Where the choice depends on the batch size, each batch size stays a group of its own.
    """
    by_place: dict[tuple[str, str], list[Pick]] = {}
    for pick in picks:
        by_place.setdefault((pick.row["model"], pick.row["device"]), []).append(pick)
    groups: list[list[Pick]] = []
    for place in by_place.values():
        if len({pick.choice for pick in place}) == 1:
            groups.append(place)
        else:
            groups.extend([pick] for pick in place)
    return groups


def models_without_pick(rows: Iterable[Row], picks: Sequence[Pick]) -> list[str]:
    """Models with rows but no pick (no ok baseline eager fp32 row to measure a speedup against)."""
    picked = {pick.row["model"] for pick in picks}
    return [model for model in dict.fromkeys(row.get("model") for row in rows) if model and model not in picked]


@dataclass(frozen=True)
class Slowdown:
    """An accelerated row (int8, compiled, another runtime or precision) slower than its eager float twin."""

    row: Row
    reference: Row

    @property
    def speedup(self) -> float:
        return self.reference["latency_ms_p50"] / self.row["latency_ms_p50"]


def slower_than_eager_float(rows: Iterable[Row]) -> list[Slowdown]:
    """Every non-eager-fp32 row slower than the eager fp32 row of its float variant, measured alike."""
    timed = _timed(rows)
    found = []
    for row in timed:
        if is_eager_float(row):
            continue
        twin_variant = float_variant(row["variant"])
        reference = reference_for(row, [other for other in timed if other["variant"] == twin_variant])
        if reference is not None and is_eager_float(reference) and row["latency_ms_p50"] > reference["latency_ms_p50"]:
            found.append(Slowdown(row, reference))
    return found


def failures_line(rows: Sequence[Row], *, shown: int = 3) -> str:
    """The run's failures in one sentence: counts, then the first few rows with their errors."""
    bad = [row for row in rows if row.get("status") != Status.OK]
    if not bad:
        return f"none: all {len(rows)} rows are ok." if rows else "none: the run stored no rows yet."
    counts = {status: sum(row.get("status") == status for row in bad) for status in (Status.FAILED, Status.SKIPPED)}
    parts = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    named = "; ".join(_failure(row) for row in bad[:shown])
    more = f"; and {len(bad) - shown} more" if len(bad) > shown else ""
    return f"{len(bad)} of {len(rows)} rows not ok ({parts}): {named}{more}."


def _failure(row: Row) -> str:
    where = " ".join(str(part) for part in (row.get("device"), _batch(row)) if part)
    error = " ".join(str(row.get("error") or "no message").split())
    if len(error) > 80:
        error = error[:77] + "..."
    return f"{row.get('model')} {row.get('variant')} {where} ({error})".replace("  ", " ")


def _batch(row: Row) -> str:
    return "" if row.get("batch_size") is None else f"b{row['batch_size']}"
