"""Device selection: one place that turns `--device auto|cpu|cuda[:N]` into a torch.device."""

from __future__ import annotations

import torch

from bench.errors import BenchError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without a GPU is a user error."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BenchError(
                "--device cuda was asked for but no CUDA GPU is visible to torch",
                "use --device cpu (or auto), or run on a machine with a GPU and a CUDA build of torch",
            )
        index = 0 if name == "cuda" else _parse_index(name)
        if index >= torch.cuda.device_count():
            raise BenchError(
                f"no CUDA device {index}: torch sees {torch.cuda.device_count()}",
                "pick an index below that count",
            )
        return torch.device(f"cuda:{index}")
    raise BenchError(f"unknown device {name!r}", "use auto, cpu or cuda")


def _parse_index(name: str) -> int:
    try:
        return int(name.split(":", 1)[1])
    except ValueError:
        raise BenchError(f"bad CUDA device {name!r}", "write cuda or cuda:N") from None


def device_label(device: torch.device) -> str:
    """The contract's device field: ``cpu`` or ``cuda:N``."""
    if device.type == "cuda":
        return f"cuda:{device.index or 0}"
    return device.type
