"""What every runtime returns: a deployed model that can be prepared per input shape and run.

A runtime turns a float model (or the float model plus calibration images, for int8) into a
:class:`Deployed`: the conversion (export to ONNX or OpenVINO IR, pt2e quantization, NNCF or
ONNX Runtime quantization) is done once and timed as ``convert_ms``; :meth:`Deployed.prepare`
then builds what runs one input shape (OpenVINO compiles per static shape, torch.compile
traces per shape) and its first-call time is the row's ``compile_ms``. Inference is timed
on the callable ``prepare`` returns, so conversion never leaks into latency.

``prepare`` builds from the caller's own tensor and keys what it built by shape, strides and
whether the tensor is an inference tensor: a compiled graph guards on all three, and a
warm-up on a tensor of another kind would leave the first real call to recompile outside
the runtime's settings (that cost torch.compile int8 its freezing, 4-5x, in stop 22).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

Run = Callable[[torch.Tensor], torch.Tensor]
FLOAT, INT8 = "fp32", "int8"


@dataclass
class Deployed:
    """A model converted for ``runtime`` at ``precision``; see the module docstring."""

    runtime: str
    precision: str
    build: Callable[[torch.Tensor], Run]  # an example input -> what runs inputs like it
    convert_ms: float | None = None
    size_mb: float | None = None
    quant_engine: str | None = None  # int8: whose quantizer made it (e.g. "nncf")
    details: dict[str, Any] = field(default_factory=dict)
    _runs: dict[tuple[Any, ...], Run] = field(default_factory=dict, repr=False)

    def prepare(self, inputs: torch.Tensor) -> Run:
        """The callable for tensors like ``inputs`` (see the module docstring), built once."""
        key = (tuple(inputs.shape), inputs.stride(), inputs.is_inference())
        if key not in self._runs:
            self._runs[key] = self.build(inputs)
        return self._runs[key]

    def as_module(self) -> nn.Module:
        """An nn.Module facade, for code that evaluates modules (accuracy per runtime)."""
        return _DeployedModule(self)


class _DeployedModule(nn.Module):
    def __init__(self, deployed: Deployed) -> None:
        super().__init__()
        self.deployed = deployed

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = inputs.contiguous()
        with torch.inference_mode():  # as the profiler times it: a compiled graph never recompiles for it
            return self.deployed.prepare(inputs)(inputs)


def missing_package(runtime: str, *modules: str) -> str | None:
    """None when every module imports, else which is missing for ``runtime`` (one line)."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return f"the {runtime} runtime needs {', '.join(modules)} ({module} is missing): pip install {' '.join(modules)}"
    return None


def file_mb(*paths: Any) -> float:
    """Total size of ``paths`` in MB (10^6 bytes, like the rows' size_mb)."""
    import os

    return sum(os.path.getsize(p) for p in paths if os.path.exists(p)) / (1 << 20)
