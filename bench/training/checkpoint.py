"""The checkpoint cache: trained weights keyed by everything that shaped them.

A checkpoint is ``torch.save`` of a dict holding only tensors and plain data (the state
dict, the training history, the test evaluation, metadata and the key), so it loads with
``torch.load(weights_only=True)``: opening a cache file never runs pickled code. Files are
written to a temporary name and renamed, so a killed run never leaves half a checkpoint.

Every checkpoint carries :func:`tensor_digest` of its state dict, written when it is saved and
recomputed on every load: a file that still unzips and unpickles but whose weights changed (a
flipped bit, a partial overwrite) is never used. :func:`load_checkpoint` reports it as
:class:`DamagedCheckpoint`; a checkpoint without a digest (written by a cnnbench older than
the digest) cannot be verified and is treated the same way: the caller retrains it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write
from bench.errors import BenchError
from bench.training.safe_load import refusal_reason

FORMAT = "cnnbench-checkpoint"
VERSION = 1
DIGEST = "sha256-tensors"  # what the stored digest is: tensor_digest()


class DamagedCheckpoint(BenchError):
    """A readable checkpoint whose tensors fail their digest, or that has none to check."""

    def __init__(self, path: Path, why: str, *, what: str = "checkpoint", fix: str | None = None) -> None:
        super().__init__(f"{what} {path} {why}", fix or f"rerun with --retrain, or delete {path}")
        self.path = path
        self.why = why


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
    state = {k: v.detach().cpu().contiguous() for k, v in checkpoint.state_dict.items()}
    payload = plain_data(
        {
            "format": FORMAT,
            "key": checkpoint.key,
            "state_dict": state,
            "digest": digest_record(state),
            "history": checkpoint.history,
            "evaluation": checkpoint.evaluation,
            "meta": checkpoint.meta,
        }
    )
    with atomic_write(path) as handle:
        torch.save(payload, handle)
    return path


def load_checkpoint(path: str | Path, *, expected_key: dict[str, Any] | None = None) -> Checkpoint:
    """Read a cache file; unreadable, foreign or mismatched files are a one-line BenchError, and
    one whose tensors fail (or lack) their digest a :class:`DamagedCheckpoint`."""
    path = Path(path)
    fix = f"rerun with --retrain, or delete {path}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = refusal_reason(path, exc)
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
    check_digest(path, payload)
    return Checkpoint(
        key=stored_key,
        state_dict=payload["state_dict"],
        history=payload["history"],
        evaluation=payload["evaluation"],
        meta=payload["meta"],
    )


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and bytes, in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, not a copy
    return digest.hexdigest()


def digest_record(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """What a cache file stores of ``state`` to verify it by: ``{"kind": DIGEST, "value": ...}``."""
    return {"kind": DIGEST, "value": tensor_digest(state)}


def digest_problem(stored: Any, state: dict[str, torch.Tensor]) -> str | None:
    """Why ``state`` fails the ``stored`` :func:`digest_record` (none stored, or another value); None when it passes."""
    if not isinstance(stored, dict) or stored.get("kind") != DIGEST:
        return "has no digest of its tensors (written by an older cnnbench): it cannot be verified"
    if tensor_digest(state) != stored.get("value"):
        return "is damaged: its tensors do not match the digest written when it was saved"
    return None


def check_digest(path: Path, payload: dict[str, Any]) -> None:
    """Raise :class:`DamagedCheckpoint` unless ``payload``'s state dict matches its stored digest."""
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DamagedCheckpoint(path, "holds a state dict that is not all tensors")
    problem = digest_problem(payload.get("digest"), state)
    if problem is not None:
        raise DamagedCheckpoint(path, problem)


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
