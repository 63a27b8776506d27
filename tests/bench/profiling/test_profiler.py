from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import bench.profiling.profiler as profiler
from bench.errors import BenchError
from bench.profiling.profiler import ProfileOptions, backend_flags, profile_model, thread_count
from bench.profiling.timing import TimingConfig
from bench.results.schema import FIELD_NAMES

FAST = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=3, min_time_s=0.0)


def options(**kwargs) -> ProfileOptions:
    return ProfileOptions(**{"timing": FAST, **kwargs})


def timed_calls(row: dict) -> int:
    """Forward calls made by the warm-up and timed loops (the MAC count's trace comes first)."""
    return row["iterations"] + row["warmup_iters"]


def test_one_schema_row_per_batch_size(lenet: nn.Module) -> None:
    rows = profile_model(
        lenet,
        input_shape=(1, 32, 32),
        options=options(batch_sizes=[1, 4]),
        base_row={"variant": "baseline", "dataset": "digits"},
    )
    assert [r["batch_size"] for r in rows] == [1, 4]
    for row in rows:
        assert tuple(row) == FIELD_NAMES
        assert row["status"] == "ok" and row["error"] is None
        assert (row["model"], row["variant"], row["dataset"]) == ("lenet5", "baseline", "digits")
        assert (row["input_size"], row["num_classes"]) == ("1x32x32", 10)
        assert (row["params"], row["trainable_params"]) == (61_706, 61_706)
        assert (row["macs"], row["flops"]) == (416_520, 833_040)
        assert json.loads(row["unsupported_ops"])["aten::tanh"] == 4
        assert row["device"] == "cpu" and row["device_name"]
        assert row["precision"] == "fp32" and row["channels_last"] == 0 and row["compiled"] == 0
        assert row["iterations"] >= 3 and row["warmup_iters"] >= 1
        assert 0 < row["latency_ms_p50"] <= row["latency_ms_p90"] <= row["latency_ms_p99"]
        assert row["throughput_ips"] == pytest.approx(row["batch_size"] * 1e3 / row["latency_ms_mean"])
        assert row["peak_mem_mb"] > 0 and row["compile_ms"] is None


def test_complexity_is_computed_once_per_model(lenet: nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    real = profiler.count_macs

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(profiler, "count_macs", spy)
    profile_model(lenet, input_shape=(1, 32, 32), options=options(batch_sizes=[1, 2, 3]))
    assert len(calls) == 1


def test_threads_are_set_recorded_and_restored(lenet: nn.Module) -> None:
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    seen: list[int] = []
    lenet.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    rows = profile_model(lenet, input_shape=(1, 32, 32), options=options(threads=wanted))
    assert rows[0]["threads"] == wanted
    assert set(seen[-timed_calls(rows[0]) :]) == {wanted}
    assert torch.get_num_threads() == before


def test_bf16_runs_under_cpu_autocast(tiny: nn.Module) -> None:
    dtypes: list[torch.dtype] = []
    tiny.conv.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    rows = profile_model(tiny, input_shape=tiny.INPUT_SHAPE, options=options(precision="bf16"))
    assert rows[0]["precision"] == "bf16"
    assert set(dtypes[-timed_calls(rows[0]) :]) == {torch.bfloat16}


def test_channels_last_converts_model_and_inputs(tiny: nn.Module) -> None:
    layouts: list[bool] = []
    tiny.conv.register_forward_pre_hook(
        lambda _m, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    rows = profile_model(tiny, input_shape=tiny.INPUT_SHAPE, options=options(channels_last=True, batch_sizes=[2]))
    assert rows[0]["channels_last"] == 1 and all(layouts[-timed_calls(rows[0]) :])
    assert tiny.conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_time_is_reported_apart(tiny: nn.Module) -> None:
    tiny.train()
    tiny.bn.eval()
    rows = profile_model(
        tiny, input_shape=tiny.INPUT_SHAPE, options=options(compile=True, compile_backend="eager", batch_sizes=[1, 2])
    )
    assert all(r["compiled"] == 1 and r["compile_ms"] > 0 for r in rows)
    assert tiny.training and not tiny.bn.training  # every module's mode comes back


def test_out_of_memory_batch_is_recorded_and_the_sweep_goes_on(tiny: nn.Module) -> None:
    class OomAbove(nn.Module):
        def __init__(self, inner: nn.Module, limit: int) -> None:
            super().__init__()
            self.inner, self.limit = inner, limit

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > self.limit and not torch.jit.is_tracing():
                raise torch.OutOfMemoryError("simulated")
            return self.inner(x)

    rows = profile_model(OomAbove(tiny, 2), input_shape=tiny.INPUT_SHAPE, options=options(batch_sizes=[1, 8, 2]))
    assert [r["batch_size"] for r in rows] == [1, 8, 2]
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert rows[1]["error"] == "out of memory at batch 8"
    assert rows[1]["latency_ms_p50"] is None and rows[1]["macs"] == tiny.MACS


def test_int8_model_reports_the_float_models_macs(int8_lenet) -> None:
    float_model, int8_model = int8_lenet
    rows = profile_model(int8_model, input_shape=(1, 32, 32), options=options(precision="int8"), macs_model=float_model)
    row = rows[0]
    assert row["status"] == "ok" and row["precision"] == "int8"
    assert row["macs"] == 416_520 and row["params"] == 61_706
    assert row["size_mb"] < 0.15  # int8 weights: about a quarter of the float model's 0.24 MiB


def test_each_batch_size_times_int8_kernels_packed_afresh(int8_lenet, monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN's packed int8 convolutions cache one primitive, for the first shape they run: the
    profiler times a re-packed copy per batch size, never the caller's (maybe evaluated) model."""
    float_model, int8_model = int8_lenet
    conv = next(m for m in int8_model.modules() if "quantized" in type(m).__module__ and "Conv" in type(m).__name__)
    calls: list[int] = []
    hook = conv.register_forward_hook(lambda mod, i, o: calls.append(1))
    copies: list[nn.Module] = []
    real = profiler.fresh_int8_kernels
    monkeypatch.setattr(profiler, "fresh_int8_kernels", lambda m: copies.append(real(m)) or copies[-1])
    try:
        with torch.inference_mode():
            int8_model(torch.randn(8, 1, 32, 32))  # as bench run's evaluation does first
        calls.clear()
        opts = options(precision="int8", batch_sizes=[1, 2])
        profile_model(int8_model, input_shape=(1, 32, 32), options=opts, macs_model=float_model)
    finally:
        hook.remove()
    assert calls == []  # the caller's packed kernels never ran in the timed loops
    assert len(copies) == 2 and copies[0] is not copies[1] and int8_model not in copies  # one per batch size
    inputs = torch.randn(3, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(copies[0](inputs), int8_model(inputs), rtol=0, atol=0)
    assert real(float_model) is float_model  # float models are timed as given


def test_int8_needs_the_float_model_for_macs(int8_lenet) -> None:
    with pytest.raises(BenchError, match="float model"):
        profile_model(int8_lenet[1], input_shape=(1, 32, 32), options=options(precision="int8"))


@pytest.mark.parametrize(
    ("which", "precision", "match"),
    [("int8", "fp32", "precision int8"), ("float", "int8", "quantized model")],
)
def test_precision_must_match_the_model(int8_lenet, which: str, precision: str, match: str) -> None:
    model = int8_lenet[1] if which == "int8" else int8_lenet[0]
    with pytest.raises(BenchError, match=match):
        profile_model(model, input_shape=(1, 32, 32), options=options(precision=precision), macs_model=int8_lenet[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"precision": "fp64"}, "unknown precision"),
        ({"precision": "fp16"}, "fp16"),
        ({"batch_sizes": [0]}, "batch sizes"),
        ({"batch_sizes": []}, "batch sizes"),
        ({"threads": 0}, "threads"),
        ({"precision": "int8", "compile": True}, "compile"),
    ],
)
def test_bad_options_are_bench_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(BenchError, match=match):
        ProfileOptions(**kwargs)


def test_base_row_may_not_set_measured_fields(lenet: nn.Module) -> None:
    with pytest.raises(ValueError, match="macs"):
        profile_model(lenet, input_shape=(1, 32, 32), options=options(), base_row={"macs": 1})


def test_backend_flags_are_set_and_restored() -> None:
    def flags() -> tuple[bool, bool, bool]:
        return torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32

    saved = flags()
    with backend_flags(options(cudnn_benchmark=not saved[0], allow_tf32=not saved[1])):
        assert torch.backends.cudnn.benchmark is (not saved[0])
        assert torch.backends.cuda.matmul.allow_tf32 is (not saved[1])
        assert torch.backends.cudnn.allow_tf32 is (not saved[1])
    assert flags() == saved


def test_thread_count_none_keeps_the_current_count() -> None:
    before = torch.get_num_threads()
    with thread_count(None) as threads:
        assert threads == before == torch.get_num_threads()


@pytest.mark.gpu
def test_cuda_sweep_with_fp16_and_oom(lenet: nn.Module) -> None:
    rows = profile_model(
        lenet,
        input_shape=(1, 32, 32),
        options=options(device=torch.device("cuda:0"), precision="fp16", batch_sizes=[1, 2**40 // 4096, 64]),
    )
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert rows[1]["error"] == f"CUDA out of memory at batch {2**40 // 4096}"
    assert rows[0]["device"] == "cuda:0" and rows[0]["peak_mem_mb"] > 0
    assert rows[2]["latency_ms_p50"] > 0


def test_rows_keep_their_samples_and_quartiles(lenet: nn.Module) -> None:
    (row,) = profile_model(lenet, input_shape=(1, 32, 32), options=options(), base_row={"variant": "baseline"})
    samples = row["latency_samples_ms"]
    assert len(samples) == row["iterations"] >= 3
    assert row["latency_ms_min"] == min(samples)
    assert row["latency_ms_min"] <= row["latency_ms_p25"] <= row["latency_ms_p50"] <= row["latency_ms_p75"]
    assert isinstance(row["timing_warnings"], str)  # empty, or why the timing blocks disagreed
