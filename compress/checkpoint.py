"""Files of compressed models: plain tensors and values, tagged with a format name.

Pruned and int8 models are saved as a dict of their state dict plus the plain data needed to
rebuild them from a freshly built float model (widths, engine). Reading uses
``torch.load(weights_only=True)``, so a file can never run code when it is loaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write
from bench.errors import BenchError


def write_payload(path: str | Path, fmt: str, version: int, payload: dict[str, Any]) -> Path:
    """Save ``payload`` under ``path`` tagged with ``fmt`` and ``version``; return the path."""
    path = Path(path)
    with atomic_write(path) as handle:
        torch.save({"format": fmt, "version": version, **payload}, handle)
    return path


def read_payload(path: str | Path, fmt: str, *, what: str, saver: str) -> dict[str, Any]:
    """Load a file written by :func:`write_payload` with format ``fmt``; one-line errors otherwise.

    ``what`` names the content for messages ("pruned model"), ``saver`` the function that writes it.
    """
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no {what} at {path}", f"check the path, or save one with {saver}")
    try:
        with warnings.catch_warnings():  # quantized tensors are rebuilt through TypedStorage
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt file, or one holding pickled objects
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BenchError(f"cannot read {what} {path}: {reason}", f"save it again with {saver}") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise BenchError(f"{path} is not a {what} saved by cnnbench", f"save it with {saver}")
    return payload
