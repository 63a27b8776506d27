"""CUDA-only speed-ups shared by training and evaluation: mixed precision and channels_last.

Both are requested by a recipe but only take effect on CUDA, so CPU runs (and int8 models,
which only run on the CPU) stay plain fp32 and reproducible.
"""

from __future__ import annotations

import contextlib

import torch


def amp_dtype() -> torch.dtype:
    """bfloat16 where the GPU supports it (no loss scaling needed), else float16."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast_context(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on CUDA when ``enabled``; a no-op context everywhere else."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=amp_dtype())


def use_channels_last(device: torch.device, requested: bool) -> bool:
    """channels_last pays off on CUDA tensor cores only; CPU runs keep the default layout."""
    return requested and device.type == "cuda"
