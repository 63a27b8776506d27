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
from compress.apply import PhaseHook, Pruned
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


def pruned_cache_path(
    cache_dir: Path | None,
    baseline_stem: str,
    *,
    ratio: float,
    criterion: str,
    recipe: dict[str, Any] | None,
    seed: int,
) -> Path:
    """``<cache>/pruned/<baseline checkpoint>-p<ratio>-<criterion>-<digest>.pt``."""
    key = {"baseline": baseline_stem, "ratio": ratio, "criterion": criterion, "recipe": recipe, "seed": seed}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "pruned" / f"{baseline_stem}-p{ratio:g}-{criterion}-{digest}.pt"


def save_cached_pruned(path: Path, pruned: PrunedModel) -> None:
    save_pruned(pruned.model, path)
    meta = {
        "digest": digest_record(pruned.model.state_dict()),
        "top1_before_finetune": pruned.top1_before_finetune,
        "evaluation": None if pruned.evaluation is None else pruned.evaluation.to_dict(),
        "history": pruned.history,
        "finetune_seconds": pruned.finetune_seconds,
        "source": pruned.source,
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
        model, source, meta.get("top1_before_finetune"), evaluation, meta.get("history") or [], meta["finetune_seconds"]
    )


def _damaged(path: Path, why: str) -> DamagedCheckpoint:
    return DamagedCheckpoint(path, why, what="pruned model", fix=f"delete {path} and {path.with_suffix('.json').name}")


class PrunedModelCache:
    """One provider's pruned models by ratio: memory first (``pruned-50+int8`` quantizes the very
    model ``pruned-50`` measured), then the disk pair at ``path_for(ratio)``, read back onto
    ``fresh_model()`` (the unpruned architecture). Its :class:`Pruned` carry a
    :class:`PrunedModel` as what the fine-tuning returned. A damaged pair is told to ``notice``
    and missed (built again), or with ``on_damaged="stop"`` raised."""

    def __init__(
        self,
        memory: dict[str, PrunedModel],
        *,
        path_for: Callable[[float], Path],
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

    def load(self, ratio: float) -> Pruned | None:
        key = f"{ratio:g}"
        if key not in self._memory:
            with self._phase("prune"):
                try:
                    cached = load_cached_pruned(self._path_for(ratio), self._fresh_model())
                except DamagedCheckpoint as damaged:
                    if self._on_damaged != "retrain":
                        raise
                    self._notice(f"{damaged.problem}: building it again")
                    cached = None
            if cached is None:
                return None
            self._memory[key] = cached
        found = self._memory[key]
        return Pruned(found.model, finetuned=found)

    def save(self, ratio: float, pruned: Pruned) -> None:
        save_cached_pruned(self._path_for(ratio), pruned.finetuned)
        self._memory[f"{ratio:g}"] = pruned.finetuned
