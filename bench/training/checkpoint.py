"""The checkpoint cache: trained weights keyed by everything that shaped them.

A checkpoint is ``torch.save`` of a dict holding only tensors and plain data (the state
dict, the training history, the test evaluation, metadata and the key), so it loads with
``torch.load(weights_only=True)``: opening a cache file never runs pickled code. Files are
written to a temporary name and renamed, so a killed run never leaves half a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write
from bench.errors import BenchError

FORMAT = "cnnbench-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """What a cache file holds."""

    key: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    evaluation: dict[str, Any]
    meta: dict[str, Any]


def default_cache_dir() -> Path:
    """``$CNNBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnbench``, else ``~/.cache/cnnbench``."""
    explicit = os.environ.get("CNNBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cnnbench"


def checkpoint_key(
    *,
    model: str,
    dataset: dict[str, Any],
    input_shape: tuple[int, int, int],
    num_classes: int,
    recipe: dict[str, Any],
    seed: int,
    weights: str,
    norm: str | None = None,
    dropout: float | None = None,
    freeze: str | None = None,
) -> dict[str, Any]:
    """Everything a trained model depends on; ``dataset`` is the splits' identity.

    ``norm`` is the normalization swapped in (None: the model's own), ``dropout`` the classifier
    dropout set (None: the builder's), ``freeze`` what a fine-tune held fixed (None: nothing).
    """
    return {
        "format_version": VERSION,
        "model": model,
        "dataset": dataset,
        "input_shape": list(input_shape),
        "num_classes": num_classes,
        "in_chans": input_shape[0],
        "recipe": recipe,
        "seed": seed,
        "weights": weights,
        "norm": norm,
        "dropout": dropout,
        "freeze": freeze,
    }


def checkpoint_path(cache_dir: str | Path, key: dict[str, Any]) -> Path:
    """``<cache>/checkpoints/<model>[-<norm>]-<dataset>-<CxHxW>-s<seed>-<digest>.pt``: readable and unique."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    shape = "x".join(str(s) for s in key["input_shape"])
    model = "-".join(str(part) for part in (key["model"], key.get("norm")) if part)
    stem = f"{model}-{key['dataset'].get('dataset', 'data')}-{shape}-s{key['seed']}-{digest}"
    return Path(cache_dir).expanduser() / "checkpoints" / (re.sub(r"[^A-Za-z0-9._-]", "_", stem) + ".pt")


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    payload = plain_data(
        {
            "format": FORMAT,
            "key": checkpoint.key,
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in checkpoint.state_dict.items()},
            "history": checkpoint.history,
            "evaluation": checkpoint.evaluation,
            "meta": checkpoint.meta,
        }
    )
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    return path


def load_checkpoint(path: str | Path, *, expected_key: dict[str, Any] | None = None) -> Checkpoint:
    """Read a cache file; unreadable, foreign or mismatched files are a one-line BenchError."""
    path = Path(path)
    fix = f"rerun with --retrain, or delete {path}"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = load_error_reason(exc)
        raise BenchError(f"checkpoint {path} is corrupt or unreadable ({reason})", fix) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BenchError(f"{path} is not a cnnbench checkpoint", fix)
    missing = [k for k in ("key", "state_dict", "history", "evaluation", "meta") if k not in payload]
    if missing:
        raise BenchError(f"checkpoint {path} lacks {', '.join(missing)}", fix)
    stored_key = payload["key"] if isinstance(payload["key"], dict) else {}
    if expected_key is not None and stored_key != expected_key:
        differs = sorted(k for k in {*expected_key, *stored_key} if stored_key.get(k) != expected_key.get(k))
        raise BenchError(
            f"checkpoint {path} was written for another configuration (differs in {', '.join(differs)})",
            fix,
        )
    return Checkpoint(
        key=stored_key,
        state_dict=payload["state_dict"],
        history=payload["history"],
        evaluation=payload["evaluation"],
        meta=payload["meta"],
    )


def plain_data(value: Any) -> Any:
    """``value`` as the types ``weights_only`` loading accepts: dict, list, str, numbers, tensors.

    Converts tuples to lists, str subclasses (``torch.__version__``) to str and numpy
    scalars to Python numbers; anything else is a TypeError at save time, not a checkpoint
    that cannot be read back.
    """
    if value is None or type(value) in (bool, int, float):
        return value
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return plain_data(value.item())
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint")


def load_error_reason(exc: BaseException) -> str:
    """The informative line of a torch.load failure (the weights-only unpickler's own line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("WeightsUnpickler error:"):
            return line[:200]
    return (lines[0][:200] if lines else "") or type(exc).__name__
