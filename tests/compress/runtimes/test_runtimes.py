"""The runtime axis: names, conversions that compute what the model computes, rows they time."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from bench.profiling.profiler import ProfileOptions, profile_model
from bench.profiling.timing import TimingConfig
from bench.zoo import create_model
from compress.quantization import random_calibration_batches
from compress.runtimes import RUNTIMES, parse_runtimes, runtime_module, runtime_unavailable

SHAPE = (1, 32, 32)
QUICK = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=3, min_time_s=0.0, max_time_s=0.5)


@pytest.fixture(scope="module")
def lenet() -> nn.Module:
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32).eval()


def _installed(name: str) -> None:
    reason = runtime_unavailable(name)
    if reason is not None:
        pytest.skip(reason)


def test_runtime_names_parse_in_order_without_repeats() -> None:
    assert RUNTIMES[0] == "eager"
    assert parse_runtimes(" eager, EAGER ,") == ("eager",)
    with pytest.raises(BenchError, match="unknown runtime 'tvm'"):
        parse_runtimes("eager,tvm")
    with pytest.raises(BenchError, match="is empty"):
        parse_runtimes(" , ")


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_a_float_conversion_computes_the_models_outputs(runtime: str, lenet: nn.Module) -> None:
    _installed(runtime)
    deployed = runtime_module(runtime).deploy(lenet, "fp32", example=torch.zeros(1, *SHAPE), threads=1)
    assert deployed.runtime == runtime and deployed.precision == "fp32" and deployed.quant_engine is None
    assert deployed.convert_ms > 0 and deployed.size_mb > 0.1  # lenet5's ~61k fp32 weights: ~0.24 MiB
    for batch in (1, 5):  # one conversion, any batch size
        inputs = torch.randn(batch, *SHAPE)
        with torch.no_grad():
            torch.testing.assert_close(deployed.as_module()(inputs), lenet(inputs), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("runtime", "engine"), [("openvino", "nncf"), ("onnxruntime", "ort-qdq")])
def test_int8_is_quantized_by_the_runtimes_own_recipe(runtime: str, engine: str, lenet: nn.Module) -> None:
    _installed(runtime)
    calib = random_calibration_batches(SHAPE, 64, seed=0)
    fp32 = runtime_module(runtime).deploy(lenet, "fp32", example=torch.zeros(1, *SHAPE))
    int8 = runtime_module(runtime).deploy(lenet, "int8", example=torch.zeros(1, *SHAPE), calib_batches=calib)
    assert int8.precision == "int8" and int8.quant_engine == engine
    assert int8.size_mb < 0.6 * fp32.size_mb  # int8 weights on disk
    inputs = torch.randn(16, *SHAPE)
    with torch.no_grad():
        reference, quantized = lenet(inputs), int8.as_module()(inputs)
    assert not torch.equal(reference, quantized)  # int8 numerics are its own
    assert nn.functional.cosine_similarity(reference.flatten(), quantized.flatten(), dim=0) > 0.95


@pytest.mark.slow
def test_compile_runs_float_and_pt2e_int8_through_inductor(lenet: nn.Module) -> None:
    _installed("compile")
    calib = random_calibration_batches(SHAPE, 32, seed=0)
    inputs = torch.randn(2, *SHAPE)
    with torch.no_grad():
        reference = lenet(inputs)
    fp32 = runtime_module("compile").deploy(lenet, "fp32", example=torch.zeros(1, *SHAPE))
    torch.testing.assert_close(fp32.as_module()(inputs), reference, atol=1e-4, rtol=1e-4)
    int8 = runtime_module("compile").deploy(lenet, "int8", example=torch.zeros(1, *SHAPE), calib_batches=calib)
    assert int8.quant_engine == "pt2e-x86-inductor" and int8.details["quantize_nodes"] > 0
    out = int8.as_module()(inputs)
    assert out.shape == (2, 10)
    assert nn.functional.cosine_similarity(reference.flatten(), out.flatten(), dim=0) > 0.95
    # As the profiler times it: prepare on its tensor, then call in inference mode. A recompile
    # here would run outside the freezing patch, with float convolutions (stop 22's slow rows).
    run, fresh = int8.prepare(inputs), torch.randn(2, *SHAPE)
    with torch.inference_mode(), torch._dynamo.config.patch(error_on_recompile=True):
        run(inputs)
        run(fresh)
    with torch.inference_mode():
        made_inside = torch.randn(2, *SHAPE)
    assert int8.prepare(made_inside) is not run  # an inference tensor guards differently: its own build


def test_profile_rows_of_a_runtime_carry_its_name_conversion_time_and_artifact_size(lenet: nn.Module) -> None:
    _installed("onnxruntime")
    deployed = runtime_module("onnxruntime").deploy(lenet, "fp32", example=torch.zeros(1, *SHAPE), threads=1)
    options = ProfileOptions(batch_sizes=[1, 2], threads=1, timing=QUICK)
    rows = profile_model(lenet, input_shape=SHAPE, options=options, executor=deployed)
    assert [r["batch_size"] for r in rows] == [1, 2]
    for row in rows:
        assert row["runtime"] == "onnxruntime" and row["status"] == "ok" and row["compiled"] == 0
        assert row["convert_ms"] == deployed.convert_ms and row["size_mb"] == deployed.size_mb
        assert row["params"] == sum(p.numel() for p in lenet.parameters()) and row["macs"] > 0
        assert row["compile_ms"] is not None and row["latency_ms_p50"] > 0


def test_a_converting_runtime_refuses_cuda_rows(lenet: nn.Module) -> None:
    class Fake:
        runtime, convert_ms, size_mb = "openvino", 1.0, None

        def prepare(self, inputs: torch.Tensor):
            return lenet

    options = ProfileOptions(batch_sizes=[1], timing=QUICK)
    options.device = torch.device("cuda")  # set after validation: no GPU is needed to check the refusal
    with pytest.raises(BenchError, match="runs on the CPU"):
        profile_model(lenet, input_shape=SHAPE, options=options, executor=Fake())
