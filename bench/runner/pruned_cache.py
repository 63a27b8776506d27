"""The disk cache of pruned, fine-tuned models, beside the training checkpoints.

Pruning and fine-tuning are deterministic for a given baseline checkpoint, ratio, criterion,
fine-tuning recipe and seed, so their result is cached like a trained model: a resumed or
repeated `bench run` loads it instead of fine-tuning again. A model file
(:func:`compress.pruning.save_pruned`: plain tensors and widths) is paired with a JSON file
of what the rows need (accuracy before and after fine-tuning, the fine-tuning history);
the JSON is written last, so a pair is only used when both halves are whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.training.checkpoint import default_cache_dir
from bench.training.evaluation import EvalResult
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
        "top1_before_finetune": pruned.top1_before_finetune,
        "evaluation": None if pruned.evaluation is None else pruned.evaluation.to_dict(),
        "history": pruned.history,
        "finetune_seconds": pruned.finetune_seconds,
        "source": pruned.source,
    }
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta))


def load_cached_pruned(path: Path, base_model: nn.Module) -> PrunedModel | None:
    """The cached pair, or None when it is absent or unreadable (it is then rebuilt)."""
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model = load_pruned(path, base_model)
    except (BenchError, ValueError, OSError, RuntimeError):
        return None
    evaluation = None if meta.get("evaluation") is None else EvalResult.from_dict(meta["evaluation"])
    source = "cached" if meta.get("source") == "trained" else meta.get("source", "cached")
    return PrunedModel(
        model, source, meta.get("top1_before_finetune"), evaluation, meta.get("history") or [], meta["finetune_seconds"]
    )
