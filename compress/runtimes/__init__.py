"""The runtime axis: who executes a variant (``--runtime eager,compile,openvino,onnxruntime``).

``eager`` is PyTorch as the model is (its int8 is the FX model :mod:`compress.apply` builds);
the others convert the variant's float model and, for int8, quantize it with their own
recipe on the same calibration images: ``compile`` (torch.compile, pt2e int8),
``openvino`` (NNCF int8), ``onnxruntime`` (static QDQ int8). Each runtime module is a plain
pair of functions, ``unavailable()`` and ``deploy(...)``, found by name here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bench.errors import BenchError
from bench.results.schema import DEFAULT_RUNTIME

RUNTIMES: tuple[str, ...] = (DEFAULT_RUNTIME, "compile", "openvino", "onnxruntime")
CPU_ONLY: frozenset[str] = frozenset({"openvino", "onnxruntime"})  # as cnnbench runs them
_MODULES = {"compile": "compiled", "openvino": "openvino_rt", "onnxruntime": "onnxruntime_rt"}


def parse_runtimes(text: str, *, flag: str = "--runtime") -> tuple[str, ...]:
    """``"eager,openvino"`` -> ("eager", "openvino"); unknown names and missing packages are errors."""
    names = [part.strip().lower() for part in (text or "").split(",") if part.strip()]
    if not names:
        raise BenchError(f"{flag} is empty", f"pass runtimes from {','.join(RUNTIMES)}, e.g. {flag} eager,openvino")
    for name in names:
        if name not in RUNTIMES:
            raise BenchError(f"{flag}: unknown runtime {name!r}", f"use runtimes from {','.join(RUNTIMES)}")
        reason = runtime_unavailable(name)
        if reason is not None:
            raise BenchError(f"{flag} {name}: {reason}", f"install it, or leave {name} out of {flag}")
    return tuple(dict.fromkeys(names))


def runtime_module(name: str) -> ModuleType:
    """The module of a non-eager runtime (its ``deploy`` and ``unavailable``)."""
    if name not in _MODULES:
        raise ValueError(f"{name!r} is not a converting runtime")
    return importlib.import_module(f"compress.runtimes.{_MODULES[name]}")


def runtime_unavailable(name: str) -> str | None:
    """Why ``name`` cannot run on this install, or None (eager always can)."""
    return None if name == DEFAULT_RUNTIME else runtime_module(name).unavailable()
