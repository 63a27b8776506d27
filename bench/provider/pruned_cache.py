"""The cache of pruned, fine-tuned models: in memory per provider, on disk beside the checkpoints.

Pruning and fine-tuning are deterministic for a given baseline checkpoint, ratio, criterion,
fine-tuning recipe and seed, so their result is cached like a trained model: a resumed or
repeated `bench run` (or a `bench viz` of the same variant) loads it instead of fine-tuning
again. A model file (:func:`compress.pruning.save_pruned`: plain tensors and widths) is paired
with a JSON file of what the rows need (accuracy before and after fine-tuning, the
fine-tuning history, and :func:`~bench.training.checkpoint.tensor_digest` of the model's state
dict); the JSON is written last, so a pair is only used when both halves are whole. A pair whose
model is unreadable, fails the digest or has none (written before the digest) is never used:
:class:`PrunedModelCache` reports it as a notice and builds the model again, or stops when asked
(``--damaged-cache stop``). :class:`PrunedModelCache` is the cache hook
:func:`compress.apply.apply_variant` takes.

A latency-aware variant (``pruned-2x``) is keyed by its goal instead of a ratio, plus what its
widths were measured on (:meth:`compress.latency_prune.LatencySettings.environment_key`: device
name, torch, threads, batch size, budget): its file is ``...-t2x-<criterion>-<digest>.pt`` and
its JSON also holds the search's record (goal, measured speedup, widths, attempts), so a cached
model reports the speedup measured when it was built, never one it did not measure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.training.checkpoint import DamagedCheckpoint, default_cache_dir, digest_problem, digest_record
from bench.training.evaluation import EvalResult
from bench.training.requests import WeightsSource
from compress.apply import PhaseHook, Pruned, PruneKey
from compress.latency_prune import LatencyPruning
from compress.prune_target import parse_target
from compress.pruning import load_pruned, save_pruned


@dataclass
class PrunedModel:
    """A pruned float model and how it got its accuracy."""

    model: nn.Module
    source: str  # trained (fine-tuned now), cached, or untrained (no data to fine-tune on)
    top1_before_finetune: float | None
    evaluation: EvalResult | None
    history: list[dict[str, float]]
    finetune_seconds: float
    latency: dict[str, Any] | None = None  # latency-aware variants: LatencyPruning.to_dict()


def pruned_cache_path(
    cache_dir: Path | None,
    baseline_stem: str,
    *,
    ratio: float | None = None,
    criterion: str,
    recipe: dict[str, Any] | None,
    seed: int,
    target: str | None = None,
    measured_on: dict[str, Any] | None = None,
) -> Path:
    """``<cache>/pruned/<baseline checkpoint>-p<ratio>-<criterion>-<digest>.pt``, or for a latency
    goal (``target``, with ``measured_on`` in the key) ``...-t<speedup>x-<criterion>-<digest>.pt``."""
    key: dict[str, Any] = {"baseline": baseline_stem, "ratio": ratio, "criterion": criterion, "recipe": recipe}
    key["seed"] = seed
    if target is not None:
        key.update(target=target, measured_on=measured_on)
        part = f"t{parse_target(target).speedup:g}x"
    elif ratio is not None:
        part = f"p{ratio:g}"
    else:
        raise ValueError("a pruned model is cached by a ratio or a latency goal")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "pruned" / f"{baseline_stem}-{part}-{criterion}-{digest}.pt"


def save_cached_pruned(path: Path, pruned: PrunedModel) -> None:
    save_pruned(pruned.model, path)
    meta = {
        "digest": digest_record(pruned.model.state_dict()),
        "top1_before_finetune": pruned.top1_before_finetune,
        "evaluation": None if pruned.evaluation is None else pruned.evaluation.to_dict(),
        "history": pruned.history,
        "finetune_seconds": pruned.finetune_seconds,
        "source": pruned.source,
        "latency": pruned.latency,
    }
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta))


def load_cached_pruned(path: Path, base_model: nn.Module) -> PrunedModel | None:
    """The cached pair, or None when it is absent (half a pair is absent: the JSON comes last).

    A pair that is unreadable, or whose model fails its digest or has none, is a
    :class:`DamagedCheckpoint`.
    """
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model = load_pruned(path, base_model)
    except (BenchError, ValueError, OSError, RuntimeError) as exc:
        reason = exc.problem if isinstance(exc, BenchError) else " ".join(str(exc).split())[:200]
        raise _damaged(path, f"is unreadable ({reason})") from None
    problem = digest_problem(meta.get("digest") if isinstance(meta, dict) else None, model.state_dict())
    if problem is not None:
        raise _damaged(path, problem)
    evaluation = None if meta.get("evaluation") is None else EvalResult.from_dict(meta["evaluation"])
    source = (
        WeightsSource.CACHED
        if meta.get("source") == WeightsSource.TRAINED
        else meta.get("source", WeightsSource.CACHED)
    )
    return PrunedModel(
        model,
        source,
        meta.get("top1_before_finetune"),
        evaluation,
        meta.get("history") or [],
        meta["finetune_seconds"],
        meta.get("latency"),
    )


def _damaged(path: Path, why: str) -> DamagedCheckpoint:
    return DamagedCheckpoint(path, why, what="pruned model", fix=f"delete {path} and {path.with_suffix('.json').name}")


class PrunedModelCache:
    """One provider's pruned models by ratio or goal (:func:`compress.apply.prune_key`): memory
    first (``pruned-50+int8`` quantizes the very model ``pruned-50`` measured), then the disk pair
    at ``path_for(key)``, read back onto
    ``fresh_model()`` (the unpruned architecture). Its :class:`Pruned` carry a
    :class:`PrunedModel` as what the fine-tuning returned. A damaged pair is told to ``notice``
    and missed (built again), or with ``on_damaged="stop"`` raised."""

    def __init__(
        self,
        memory: dict[str, PrunedModel],
        *,
        path_for: Callable[[PruneKey], Path],
        fresh_model: Callable[[], nn.Module],
        phase: PhaseHook,
        notice: Callable[[str], None] = lambda message: None,
        on_damaged: str = "retrain",
    ) -> None:
        self._memory = memory
        self._path_for = path_for
        self._fresh_model = fresh_model
        self._phase = phase
        self._notice = notice
        self._on_damaged = on_damaged

    def load(self, key: PruneKey) -> Pruned | None:
        name = _memory_key(key)
        if name not in self._memory:
            with self._phase("prune"):
                try:
                    cached = load_cached_pruned(self._path_for(key), self._fresh_model())
                except DamagedCheckpoint as damaged:
                    if self._on_damaged != "retrain":
                        raise
                    self._notice(f"{damaged.problem}: building it again")
                    cached = None
            if cached is None:
                return None
            self._memory[name] = cached
        found = self._memory[name]
        latency = LatencyPruning.from_dict(found.latency) if found.latency is not None else None
        return Pruned(found.model, finetuned=found, latency=latency)

    def save(self, key: PruneKey, pruned: Pruned) -> None:
        kept: PrunedModel = pruned.finetuned
        kept.latency = pruned.latency.to_dict() if pruned.latency is not None else None
        save_cached_pruned(self._path_for(key), kept)
        self._memory[_memory_key(key)] = kept


def _memory_key(key: PruneKey) -> str:
    return key if isinstance(key, str) else f"{key:g}"
