"""The ``compile`` runtime: torch.compile (Inductor, freezing on) for float, pt2e int8 for int8.

Freezing folds the weights into the graph as constants, which lets Inductor prepack them for
oneDNN on the CPU; it is what torchao's X86 Inductor recipe requires to lower pt2e's
quantize/dequantize pairs to int8 kernels, and is turned on for float too so the two rows
compare the same compiler. Each input shape compiles once (``dynamic=False``; a run needs a
few shapes, its batch sizes and the evaluation's, well under Dynamo's recompile limit), in
inference mode, on the caller's own input: Dynamo guards on the tensor's dispatch keys, so a
warm-up on an inference tensor made a real input recompile later, outside the freezing
patch, and pt2e int8 then ran its quantize/dequantize pairs around float convolutions
(resnet18 at 224, batch 1: 51 ms instead of 9-13 ms on a 2-core Xeon). That first call is the
row's ``compile_ms``. The pt2e quantization itself is ``convert_ms``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import torch
from torch import nn

from compress.pt2e import PT2E_ENGINE, graph_size_mb, quantize_pt2e
from compress.runtimes.base import FLOAT, INT8, Deployed, Run

NAME = "compile"


def unavailable() -> str | None:
    """Why this runtime cannot run here, or None."""
    from compress.pt2e import pt2e_available

    return None if pt2e_available() is None else "torch.compile int8 needs torchao (pip install torchao)"


def deploy(
    model: nn.Module,
    precision: str,
    *,
    example: torch.Tensor,
    calib_batches: Iterable[torch.Tensor] = (),
    threads: int | None = None,
) -> Deployed:
    """``model`` (float, eval) compiled; for int8 first quantized with pt2e on ``calib_batches``."""
    if precision == FLOAT:
        return Deployed(NAME, FLOAT, _compiler(model.eval()), convert_ms=None)
    result = quantize_pt2e(model, calib_batches, example_inputs=example)
    return Deployed(
        NAME,
        INT8,
        _compiler(result.model),
        convert_ms=result.seconds * 1e3,
        size_mb=graph_size_mb(result.model),
        quant_engine=PT2E_ENGINE,
        details={
            "quantize_nodes": result.quantize_nodes,
            "dequantize_nodes": result.dequantize_nodes,
            "strict_export": result.strict_export,
            "calibration_images": result.calibration_images,
        },
    )


def _compiler(model: nn.Module) -> Callable[[torch.Tensor], Run]:
    def build(example: torch.Tensor) -> Run:
        compiled = torch.compile(model, dynamic=False)
        # Freezing must be on while Inductor compiles (options={"freezing": True} fails on
        # pt2e graphs: onednn.qconv_prepack has no fallback); the first call compiles, in
        # inference mode as every later call runs, on the caller's tensor, so nothing
        # recompiles outside this block.
        with torch._inductor.config.patch(freezing=True), torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Inductor's int8 lowering warns per weight
            compiled(example)
        return compiled

    return build
