"""The ``openvino`` runtime: OpenVINO's CPU plugin for float, NNCF post-training int8 for int8.

The model is converted once (``ov.convert_model`` with a dynamic batch) and, for int8,
quantized by ``nncf.quantize`` on the calibration images (NNCF's default preset: symmetric
int8 weights and activations, per-channel weights, fast bias correction). Each batch size is
compiled for its static shape, which is what OpenVINO's CPU plugin runs fastest; that
compilation is the row's ``compile_ms``. Settings, stated because they move the numbers:
``INFERENCE_NUM_THREADS`` = the row's threads, the ``LATENCY`` performance hint with one
stream (one request at a time, as the timing loop issues them), and for fp32 rows
``INFERENCE_PRECISION_HINT`` ``f32``: on CPUs with AMX or AVX-512 BF16 the plugin otherwise
runs "fp32" models in bf16. int8 rows keep the plugin's default (what an OpenVINO int8
deployment runs: int8 kernels, and the plugin's choice for the layers left in float).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.runtimes.base import FLOAT, INT8, Deployed, Run, file_mb, missing_package

NAME = "openvino"
NNCF_ENGINE = "nncf"


def unavailable() -> str | None:
    """Why this runtime cannot run here, or None."""
    return missing_package(NAME, "openvino", "nncf")


def deploy(
    model: nn.Module,
    precision: str,
    *,
    example: torch.Tensor,
    calib_batches: Iterable[torch.Tensor] = (),
    threads: int | None = None,
) -> Deployed:
    """``model`` (float, eval) converted to OpenVINO, quantized with NNCF for int8."""
    import openvino as ov

    start = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notices, per call
        ov_model = ov.convert_model(
            model.eval(), example_input=example[:1], input=[ov.PartialShape([-1, *example.shape[1:]])]
        )
    engine = None
    if precision == INT8:
        ov_model, engine = _quantize(ov_model, calib_batches), NNCF_ENGINE
    convert_ms = (time.perf_counter() - start) * 1e3
    return Deployed(
        NAME,
        INT8 if precision == INT8 else FLOAT,
        _compiler(ov_model, threads, f32=precision != INT8),
        convert_ms=convert_ms,
        size_mb=_ir_size_mb(ov_model),
        quant_engine=engine,
        details={"openvino": ov.__version__, "inference_precision": "f32" if precision != INT8 else "plugin default"},
    )


def _quantize(ov_model: Any, calib_batches: Iterable[torch.Tensor]) -> Any:
    import nncf

    batches = [batch.cpu().numpy() for batch in calib_batches]
    images = sum(len(b) for b in batches)
    nncf.set_log_level(logging.ERROR)
    # NNCF draws progress bars on the terminal; library code prints nothing
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return nncf.quantize(ov_model, nncf.Dataset(batches), subset_size=max(1, images))


def _compiler(ov_model: Any, threads: int | None, *, f32: bool) -> Callable[[tuple[int, ...]], Run]:
    import openvino as ov

    core = ov.Core()
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}
    if f32:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = str(threads)

    def build(example: torch.Tensor) -> Run:
        static = ov_model.clone()
        static.reshape({0: ov.PartialShape(list(example.shape))})
        compiled = core.compile_model(static, "CPU", config)
        request = compiled.create_infer_request()

        def run(inputs: torch.Tensor) -> torch.Tensor:
            result = request.infer({0: inputs.numpy()}, share_inputs=True, share_outputs=False)
            return torch.from_numpy(next(iter(result.values())))

        return run

    return build


def _ir_size_mb(ov_model: Any) -> float:
    """What the model costs on disk as OpenVINO IR (xml + bin)."""
    import openvino as ov

    with tempfile.TemporaryDirectory() as folder:
        xml = Path(folder) / "model.xml"
        ov.save_model(ov_model, xml, compress_to_fp16=False)
        return file_mb(xml, xml.with_suffix(".bin"))
