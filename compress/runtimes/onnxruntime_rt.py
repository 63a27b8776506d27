"""The ``onnxruntime`` runtime: ONNX Runtime's CPU provider for float, static QDQ int8 for int8.

Export is torch's ``torch.onnx.export`` (the torch.export-based exporter, a dynamic batch
axis, weights in the file); int8 is ``onnxruntime.quantization.quantize_static`` in QDQ format
with per-channel int8 weights and uint8 activations (the U8S8 pairing ONNX Runtime's x86
kernels are built for), MinMax calibration on the calibration images, after ONNX Runtime's
recommended ``quant_pre_process`` (shape inference and graph optimization). The session runs
``intra_op_num_threads`` = the row's threads, one inter-op thread, every graph optimization.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.runtimes.base import FLOAT, INT8, Deployed, Run, file_mb, missing_package

NAME = "onnxruntime"
ORT_ENGINE = "ort-qdq"
_INPUT = "input"


def unavailable() -> str | None:
    """Why this runtime cannot run here, or None (onnxscript is torch.onnx's exporter)."""
    return missing_package(NAME, "onnx", "onnxscript", "onnxruntime")


def deploy(
    model: nn.Module,
    precision: str,
    *,
    example: torch.Tensor,
    calib_batches: Iterable[torch.Tensor] = (),
    threads: int | None = None,
) -> Deployed:
    """``model`` (float, eval) exported to ONNX, quantized to QDQ int8 for int8."""
    import onnxruntime as ort

    start = time.perf_counter()
    folder = tempfile.TemporaryDirectory(prefix="cnnbench-onnx-")
    path = Path(folder.name) / "model.onnx"
    _export(model.eval(), example, path)
    engine = None
    if precision == INT8:
        path, engine = _quantize(path, calib_batches), ORT_ENGINE
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    convert_ms = (time.perf_counter() - start) * 1e3
    size = file_mb(path)
    folder.cleanup()  # the session holds the model in memory

    def build(example: torch.Tensor) -> Run:
        def run(inputs: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(session.run(None, {_INPUT: inputs.numpy()})[0])

        return run

    return Deployed(
        NAME,
        INT8 if precision == INT8 else FLOAT,
        build,
        convert_ms=convert_ms,
        size_mb=size,
        quant_engine=engine,
        details={"onnxruntime": ort.__version__},
    )


def _export(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    example = example[:1].expand(2, *example.shape[1:]).contiguous()  # batch 1 would specialize
    # torch.onnx prints progress lines to stdout; library code prints nothing
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[_INPUT],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            external_data=False,
        )


def _quantize(path: Path, calib_batches: Iterable[torch.Tensor]) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [batch.cpu().numpy() for batch in calib_batches]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            batch = next(self.items, None)
            return None if batch is None else {_INPUT: batch}

    prepared = path.with_name("model.pre.onnx")
    quantized = path.with_name("model.int8.onnx")
    # ORT's quantizer logs one root-logger warning per tensor it cannot quantize per channel
    # (e.g. DenseNet's pre-activation BatchNorm weights): hundreds of stderr lines per model,
    # none of them actionable; they are silenced for the call and the previous level restored.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(str(path), str(prepared))
            quantize_static(
                str(prepared),
                str(quantized),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
    finally:
        logging.disable(previous)
    return quantized
