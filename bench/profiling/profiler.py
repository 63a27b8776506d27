"""Profile one model over a sweep of batch sizes: one result row per batch size.

Complexity (params, size, MACs) is computed once per model; latency, throughput and peak
memory once per batch size, each batch size with its own warm-up. Every setting that moves
the numbers (device, precision, threads, channels_last, torch.compile) is recorded in the
rows, and the CUDA backend flags are set explicitly (see :func:`backend_flags`).

Precision: ``fp32`` runs as is; ``fp16`` and ``bf16`` wrap the forward pass in
``torch.autocast`` (bf16 on the CPU uses CPU autocast; fp16 on the CPU is refused, since CPU
fp16 autocast is neither the deployment path nor fast). ``int8`` declares that the model is
a torch.ao quantized model: it runs as is, on the CPU only, and its MACs come from
``macs_model``, the float model it was quantized from (a quantized model cannot be traced
for MACs); torch.compile is refused for it. The precision is an option, never guessed from
the model: a quantized model with any other precision, or a float model with ``int8``, is
an error.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import torch
from torch import nn

from bench.devices import device_label
from bench.errors import BenchError
from bench.profiling.complexity import (
    count_macs,
    count_params,
    eval_mode,
    is_quantized_model,
    model_device,
    state_dict_size_mb,
)
from bench.profiling.environment import device_name
from bench.profiling.memory import PeakMemory
from bench.profiling.memory_estimate import is_out_of_memory
from bench.profiling.timing import LatencyStats, TimingConfig, measure_latency
from bench.results.schema import DEFAULT_RUNTIME, Status, format_input_size, make_row

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
COMPILE_RUNTIME = "compile"  # --runtime compile: its rows are compiled too

# Row fields profile_model measures itself; a base_row must not set them.
MEASURED_FIELDS = frozenset(
    {
        "params", "trainable_params", "size_mb", "macs", "flops", "unsupported_ops",
        "device", "device_name", "precision", "batch_size", "threads", "channels_last",
        "compiled", "compile_ms", "convert_ms", "runtime", "warmup_iters", "iterations", "throughput_ips", "peak_mem_mb",
        "latency_ms_mean", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_std",
        "latency_ms_min", "latency_ms_p25", "latency_ms_p75", "timing_warnings", "latency_samples_ms",
        "status", "error",
    }
)  # fmt: skip


@dataclass
class ProfileOptions:
    """How to run the measurement; ``threads=None`` keeps torch's current thread count.

    On CUDA, ``cudnn_benchmark`` and ``allow_tf32`` are applied explicitly (TF32 off by
    default, so fp32 means IEEE fp32). ``compile_backend`` is passed to ``torch.compile``.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None
    timing: TimingConfig = field(default_factory=TimingConfig)
    cudnn_benchmark: bool = True
    allow_tf32: bool = False
    compile_backend: str = "inductor"

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        if self.precision not in PRECISIONS:
            raise BenchError(f"unknown precision {self.precision!r}", f"use one of {', '.join(PRECISIONS)}")
        if not self.batch_sizes or any(int(b) < 1 for b in self.batch_sizes):
            raise BenchError(f"bad batch sizes {self.batch_sizes}", "pass positive integers like --batch-sizes 1,32")
        if self.threads is not None and self.threads < 1:
            raise BenchError(f"--threads must be positive, got {self.threads}", "pass e.g. --threads 1")
        if self.precision == "fp16" and self.device.type == "cpu":
            raise BenchError(
                "fp16 autocast is not supported on the CPU by cnnbench",
                "use --precision bf16 or fp32 on the CPU, or --device cuda for fp16",
            )
        if self.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise BenchError("this GPU does not support bf16", "use --precision fp16 or fp32")
        if self.precision == "int8" and self.device.type != "cpu":
            raise BenchError("int8 (torch.ao quantized) models run on the CPU only", "use --device cpu for int8")
        if self.precision == "int8" and self.compile:
            # Dynamo cannot propagate quantized tensors ("quantized nyi in meta tensors"): it
            # falls back to eager around every quantized op, which measures the fallback.
            raise BenchError("torch.compile cannot compile torch.ao int8 models", "profile int8 without --compile")


class Executor(Protocol):
    """A runtime other than eager (:class:`compress.runtimes.base.Deployed` is one): the model
    converted once (``convert_ms``), then prepared per input shape; what ``prepare`` returns
    is what gets timed, and how long ``prepare`` took is the row's ``compile_ms``."""

    runtime: str
    convert_ms: float | None
    size_mb: float | None

    def prepare(self, inputs: torch.Tensor) -> Callable[[torch.Tensor], Any]: ...


@contextlib.contextmanager
def backend_flags(options: ProfileOptions) -> Iterator[None]:
    """Set cudnn.benchmark and the TF32 flags from ``options``; restore them on exit."""
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    torch.backends.cudnn.benchmark = options.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = options.allow_tf32
    torch.backends.cudnn.allow_tf32 = options.allow_tf32
    try:
        yield
    finally:
        (
            torch.backends.cudnn.benchmark,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
        ) = saved


@contextlib.contextmanager
def thread_count(threads: int | None) -> Iterator[int]:
    """Use ``threads`` intra-op threads inside the block (None: keep the current count)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def model_complexity(
    model: nn.Module, input_shape: tuple[int, int, int], macs_model: nn.Module | None = None
) -> dict[str, Any]:
    """The per-model row fields: params and size of ``model``, MACs of ``macs_model or model``."""
    total, trainable = count_params(model)
    reference = macs_model if macs_model is not None else model
    macs = count_macs(reference, input_shape, device=model_device(reference))
    return {
        "params": total,
        "trainable_params": trainable,
        "size_mb": state_dict_size_mb(model),
        "macs": macs.macs,
        "flops": macs.flops,
        "unsupported_ops": json.dumps(macs.unsupported_ops, sort_keys=True),
    }


def profile_model(
    model: nn.Module,
    *,
    input_shape: tuple[int, int, int],
    options: ProfileOptions,
    macs_model: nn.Module | None = None,
    base_row: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> list[dict[str, Any]]:
    """One schema row per batch size of ``options`` (the sweep never changes them).

    With ``executor`` (``--runtime`` other than eager, CPU only) the executor runs the
    forward passes and ``model`` is the float model its params and MACs are counted on; its
    ``size_mb`` is the converted artifact's when the executor knows it.

    ``base_row`` holds the fields the caller knows (model, variant, dataset, ...); it may
    not set a field measured here. ``model`` is moved to ``options.device`` (and to
    channels_last when asked) and is left there; its modules' training flags are restored. A CUDA
    out-of-memory batch size becomes a ``failed`` row and the sweep goes on.
    """
    base = dict(base_row or {})
    clash = sorted(set(base) & MEASURED_FIELDS)
    if clash:
        raise ValueError(f"base_row sets fields the profiler measures: {clash}")
    if executor is None:
        _check_model_fits(model, options)
    elif options.device.type != "cpu" or options.compile:
        raise BenchError(
            f"the {executor.runtime} runtime runs on the CPU, without --compile",
            "use --device cpu for --runtime other than eager (--compile compiles eager rows on CUDA)",
        )
    common = {
        **_defaults_from_model(model, input_shape),
        **base,
        **model_complexity(model, input_shape, macs_model),
    }
    if executor is not None and executor.size_mb is not None:
        common["size_mb"] = executor.size_mb
    with eval_mode(model), backend_flags(options), thread_count(options.threads) as threads:
        common.update(
            device=device_label(options.device),
            device_name=device_name(options.device),
            precision=options.precision,
            threads=threads,
            channels_last=int(options.channels_last),
            compiled=int(options.compile or (executor is not None and executor.runtime == COMPILE_RUNTIME)),
            runtime=executor.runtime if executor is not None else DEFAULT_RUNTIME,
            convert_ms=executor.convert_ms if executor is not None else None,
        )
        _place(model, options)
        return [_profile_batch(model, input_shape, size, options, common, executor) for size in options.batch_sizes]


def _check_model_fits(model: nn.Module, options: ProfileOptions) -> None:
    quantized = is_quantized_model(model)
    if quantized and options.precision != "int8":
        raise BenchError(
            f"the model is quantized (int8) but precision {options.precision!r} was asked for",
            "profile quantized models with precision int8",
        )
    if not quantized and options.precision == "int8":
        raise BenchError(
            "precision int8 needs a torch.ao quantized model, got a float model",
            "quantize it first (--quantize int8) or pick fp32, fp16 or bf16",
        )


def _defaults_from_model(model: nn.Module, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    cfg = getattr(model, "bench_cfg", None)
    return {
        "model": getattr(cfg, "name", None),
        "num_classes": getattr(cfg, "num_classes", None),
        "input_size": format_input_size(input_shape),
    }


def _place(model: nn.Module, options: ProfileOptions) -> None:
    model.to(options.device)
    if options.channels_last:
        model.to(memory_format=torch.channels_last)


@contextlib.contextmanager
def _forward_context(options: ProfileOptions) -> Iterator[None]:
    """Inference mode, plus autocast for fp16/bf16."""
    dtype = AUTOCAST_DTYPES.get(options.precision)
    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device_type=options.device.type, dtype=dtype):
                yield


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _profile_batch(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    batch_size: int,
    options: ProfileOptions,
    common: dict[str, Any],
    executor: Executor | None = None,
) -> dict[str, Any]:
    try:
        measured = _measure_batch(model, input_shape, batch_size, options, executor)
    except (torch.OutOfMemoryError, RuntimeError) as exc:  # CUDA's, or the CPU allocator's RuntimeError
        if not is_out_of_memory(exc):
            raise
        where = "CUDA " if options.device.type == "cuda" else ""
        measured = {"status": Status.FAILED, "error": f"{where}out of memory at batch {batch_size}"}
    if measured.get("status") == Status.FAILED:  # outside the except: the traceback's tensors are gone
        gc.collect()
        if options.device.type == "cuda":
            torch.cuda.empty_cache()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return make_row(**common, batch_size=batch_size, created=created, **measured)


def _measure_batch(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    batch_size: int,
    options: ProfileOptions,
    executor: Executor | None = None,
) -> dict[str, Any]:
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    inputs = torch.randn(batch_size, *input_shape, device=options.device)
    inputs = inputs.contiguous(memory_format=memory_format)
    memory = PeakMemory(options.device)
    if executor is None:
        model = fresh_int8_kernels(model)
    with _forward_context(options):
        if executor is None:
            runner, compile_ms = _maybe_compile(model, inputs, options)
        else:
            start = time.perf_counter()
            runner = executor.prepare(inputs)
            runner(inputs)  # the first call of a fresh runtime session is warm-up, not latency
            compile_ms = (time.perf_counter() - start) * 1e3
        memory.start()  # after compiling: the peak is the measured loop's
        stats = measure_latency(
            lambda: runner(inputs),
            device=options.device,
            config=options.timing,
            after_iteration=memory.sample,
        )
    return {**_latency_fields(stats, batch_size), "compile_ms": compile_ms, "peak_mem_mb": memory.peak_mb()}


def fresh_int8_kernels(model: nn.Module) -> nn.Module:
    """A copy of a torch.ao int8 model with newly packed weights; any other model as is.

    On the x86 engine's oneDNN path each packed convolution caches one primitive, for the
    first input shape it runs; every other shape takes the uncached path, which re-creates
    the primitive per call. An int8 model evaluated at batch 256 before it is timed at batch 1
    then times 2-4x slower than it runs (googlenet on digits, 2-core Xeon: 22 ms instead of
    6 ms, float 9 ms: stop 22's "int8 slower than float"), and the second batch size of a
    sweep pays the same. Copying re-packs the weights (same values, empty cache), so each
    batch size is timed as a deployment serving that shape would run it.
    """
    return copy.deepcopy(model) if is_quantized_model(model) else model


def _maybe_compile(
    model: nn.Module, inputs: torch.Tensor, options: ProfileOptions
) -> tuple[Callable[[torch.Tensor], Any], float | None]:
    """The callable to time and the compile time of its first call (None when not compiled).

    The compiler's caches are reset first, so every batch size pays (and reports) its own
    compilation instead of hitting the recompile limit and silently falling back to eager.
    """
    if not options.compile:
        return model, None
    torch.compiler.reset()
    compiled = torch.compile(model, backend=options.compile_backend, dynamic=False)
    _synchronize(options.device)
    start = time.perf_counter()
    compiled(inputs)
    _synchronize(options.device)
    return compiled, (time.perf_counter() - start) * 1e3


def _latency_fields(stats: LatencyStats, batch_size: int) -> dict[str, Any]:
    return {
        "latency_ms_mean": stats.mean_ms,
        "latency_ms_p50": stats.p50_ms,
        "latency_ms_p90": stats.p90_ms,
        "latency_ms_p99": stats.p99_ms,
        "latency_ms_std": stats.std_ms,
        "latency_ms_min": stats.min_ms,
        "latency_ms_p25": stats.p25_ms,
        "latency_ms_p75": stats.p75_ms,
        "timing_warnings": stats.warnings,
        "latency_samples_ms": list(stats.samples_ms),
        "iterations": stats.iterations,
        "warmup_iters": stats.warmup_iters,
        # images per second over the timed loop: batch / mean latency
        "throughput_ips": batch_size * 1e3 / stats.mean_ms if stats.mean_ms > 0 else None,
    }
