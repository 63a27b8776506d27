"""The environment a measurement ran in: versions, hardware, threads, backend flags, commit.

Stored as the ``run`` object of every results file, so two runs can be compared knowing
what differed. Collecting it never fails: anything that cannot be found is ``None``.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from bench import __version__

# Distributions whose versions change results; recorded by their installed metadata.
_VERSIONED_DISTRIBUTIONS = {"timm": "timm", "fvcore": "fvcore", "torch_pruning": "torch-pruning"}


def collect_environment(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The contract's run fields plus the flags and versions that move the numbers.

    ``argv`` defaults to this process's command line. The CUDA backend flags are read as
    they are now: collect inside the profiler's :func:`~bench.profiling.profiler.backend_flags`
    to record the values a measurement used.
    """
    cuda_available = torch.cuda.is_available()
    env: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": list(sys.argv if argv is None else argv),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "cnnbench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _distribution_version("torchvision"),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_model": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "gpu_name": gpu_name(torch.device("cuda:0")) if cuda_available else None,
        "gpu_count": torch.cuda.device_count() if cuda_available else 0,
        "platform": platform.platform(),
        "quantized_engine": torch.backends.quantized.engine,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    for key, distribution in _VERSIONED_DISTRIBUTIONS.items():
        env[key] = _distribution_version(distribution)
    return env


def cpu_model() -> str:
    """The processor's marketing name: /proc/cpuinfo's "model name", else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name(device: torch.device) -> str | None:
    """The CUDA device's name, ``None`` when it cannot be queried."""
    try:
        return torch.cuda.get_device_name(device)
    except (RuntimeError, AssertionError, ValueError):
        return None


def device_name(device: torch.device) -> str:
    """The contract's ``device_name``: the GPU's name on CUDA, the CPU model otherwise."""
    if device.type == "cuda":
        return gpu_name(device) or "unknown GPU"
    return cpu_model()


def git_commit(cwd: str | Path | None = None) -> str | None:
    """HEAD of the git repository holding ``cwd`` (default: the working directory), or None."""
    out = _git(["rev-parse", "HEAD"], cwd)
    if out is None:
        return None
    return out.strip() or None


def git_dirty(cwd: str | Path | None = None) -> bool | None:
    """Whether tracked files differ from HEAD (None outside a repository)."""
    out = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return None if out is None else bool(out.strip())


def _git(args: list[str], cwd: str | Path | None) -> str | None:
    # GIT_OPTIONAL_LOCKS=0: `git status` must not rewrite the index of a shared checkout.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
