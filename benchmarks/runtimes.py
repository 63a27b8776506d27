"""Is cnnbench's int8 as fast as the best deployment runtime? (issue 13, acceptance)

For each model at 3x224x224 (torchvision builds, random weights: speed only) and batch size,
every runtime x {fp32, int8} that cnnbench's ``--runtime`` axis builds is timed, together
with this script's own *direct* OpenVINO int8 call (``ov.convert_model``, ``nncf.quantize``,
``core.compile_model`` written out here, not through cnnbench) as the reference, all in
alternating rounds (A B C ... A B C ...) in one process, so machine drift hits them alike.
Conversions happen before any timing. int8 calibrates on ``--calib-images`` seeded random
images, the same for every runtime.

Reported per model and batch: the median latency of each row, its speedup over eager fp32,
and the goal: the fastest int8 row within 10% of the direct OpenVINO int8 latency.

    python benchmarks/runtimes.py --models resnet18,resnet50 --batch-sizes 1 --json out.json
    python benchmarks/runtimes.py --smoke        # lenet-sized check that every path runs

Exit code 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/compress_speedups.py

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from bench.profiling.timing import TimingConfig, measure_interleaved
from compress.apply import apply_variant
from compress.quantization import random_calibration_batches
from compress.runtimes import RUNTIMES, runtime_module, runtime_unavailable

DIRECT = "openvino-direct"
GOAL = 1.10  # fastest int8 within 10% of the direct OpenVINO int8 latency


def build(name: str, size: int) -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    if name == "lenet5":  # --smoke
        from bench.zoo import create_model

        return create_model("lenet5", num_classes=10, in_chans=3, input_size=size).eval()
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    return getattr(torchvision.models, name)(**kwargs).eval()


def direct_openvino_int8(model: nn.Module, calib: list[torch.Tensor], threads: int) -> Any:
    """The reference: OpenVINO's documented PTQ path, written out without cnnbench."""
    import nncf
    import openvino as ov

    shape = list(calib[0].shape[1:])
    ov_model = ov.convert_model(model, example_input=calib[0][:1], input=[ov.PartialShape([-1, *shape])])
    quantized = nncf.quantize(ov_model, nncf.Dataset([b.numpy() for b in calib]), subset_size=sum(map(len, calib)))
    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(threads)}

    def for_shape(batch_shape: tuple[int, ...]) -> Any:
        static = quantized.clone()
        static.reshape({0: ov.PartialShape(list(batch_shape))})
        request = core.compile_model(static, "CPU", config).create_infer_request()
        return lambda x: request.infer({0: x.numpy()}, share_inputs=True)

    return for_shape


def measure_model(name: str, args: argparse.Namespace, console: Console) -> list[dict[str, Any]]:
    model = build(name, args.input_size)
    shape = (3, args.input_size, args.input_size)
    calib = random_calibration_batches(shape, args.calib_images, seed=0)
    runtimes = [r for r in args.runtimes if runtime_unavailable(r) is None]
    prepared: list[tuple[str, str, Any, float | None]] = []  # runtime, precision, deployed or builder, convert s
    for runtime in runtimes:
        for precision in ("fp32", "int8"):
            start = time.perf_counter()
            try:
                if runtime == "eager":
                    target = model if precision == "fp32" else _fx_int8(model, calib)
                else:
                    target = runtime_module(runtime).deploy(
                        model, precision, example=calib[0][:1], calib_batches=calib, threads=args.threads
                    )
            except Exception as exc:
                console.print(f"{name} {runtime} {precision}: conversion failed: {exc}".splitlines()[0][:300])
                continue
            prepared.append((runtime, precision, target, time.perf_counter() - start))
            console.print(f"{name}: {runtime} {precision} converted in {time.perf_counter() - start:.1f} s")
    if "openvino" in runtimes:
        start = time.perf_counter()
        prepared.append((DIRECT, "int8", direct_openvino_int8(model, calib, args.threads), None))
        console.print(f"{name}: direct OpenVINO int8 converted in {time.perf_counter() - start:.1f} s")
    results: list[dict[str, Any]] = []
    for batch in args.batch_sizes:
        inputs = torch.randn(batch, *shape)
        calls, labels = [], []
        for runtime, precision, target, convert_s in prepared:
            start = time.perf_counter()
            if runtime == DIRECT:
                run = target(tuple(inputs.shape))
            elif runtime == "eager":
                run = target
            else:
                run = target.prepare(inputs)
            with torch.inference_mode():
                run(inputs)
            calls.append(lambda run=run, inputs=inputs: run(inputs))
            labels.append((runtime, precision, convert_s, time.perf_counter() - start))
        with torch.inference_mode():
            stats = measure_interleaved(calls, rounds=args.rounds, config=_timing(args))
        eager_fp32 = next(s.p50_ms for (rt, p, _, _), s in zip(labels, stats.stats) if rt == "eager" and p == "fp32")
        for (runtime, precision, convert_s, first_s), s in zip(labels, stats.stats):
            results.append(
                {
                    "model": name,
                    "batch_size": batch,
                    "runtime": runtime,
                    "precision": precision,
                    "p50_ms": s.p50_ms,
                    "p25_ms": s.p25_ms,
                    "p75_ms": s.p75_ms,
                    "iterations": s.iterations,
                    "speedup_vs_eager_fp32": eager_fp32 / s.p50_ms,
                    "convert_s": convert_s,
                    "first_call_s": first_s,
                }  # fmt: skip
            )
    return results


def _fx_int8(model: nn.Module, calib: list[torch.Tensor]) -> nn.Module:
    return apply_variant(model, "int8", example_inputs=calib[0][:1], calib_batches=calib).model


def _timing(args: argparse.Namespace) -> TimingConfig:
    min_iters = args.min_iters if args.min_iters is not None else args.rounds * 4
    return TimingConfig(warmup_iters=args.warmup, warmup_s=0.2, min_iters=min_iters, min_time_s=args.min_time)


def goals(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and batch: the fastest int8 row (direct reference excluded) against the reference."""
    found = []
    for key in sorted({(r["model"], r["batch_size"]) for r in results}):
        rows = [r for r in results if (r["model"], r["batch_size"]) == key and r["precision"] == "int8"]
        direct = [r for r in rows if r["runtime"] == DIRECT]
        ours = [r for r in rows if r["runtime"] != DIRECT]
        if not direct or not ours:
            continue
        best = min(ours, key=lambda r: r["p50_ms"])
        ratio = best["p50_ms"] / direct[0]["p50_ms"]
        found.append(
            {"model": key[0], "batch_size": key[1], "fastest_int8": best["runtime"], "p50_ms": best["p50_ms"],
             "direct_openvino_int8_ms": direct[0]["p50_ms"], "ratio": ratio, "met": ratio <= GOAL}
        )  # fmt: skip
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,resnet50,googlenet,vgg16,densenet121")
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calib-images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=2.0, help="timed seconds per row, over all rounds")
    parser.add_argument("--min-iters", type=int, help="timed iterations per row, over all rounds (4 per round)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up iterations per row")
    parser.add_argument("--smoke", action="store_true", help="lenet5 at 32x32, batch 1, short rounds")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    if args.smoke:
        args.models, args.batch_sizes, args.input_size, args.min_time, args.calib_images = "lenet5", "1", 32, 0.2, 32
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",")]
    args.runtimes = [r.strip() for r in args.runtimes.split(",")]
    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name in args.models.split(","):
        results.extend(measure_model(name.strip(), args, console))
        report(results, args, started)  # after every model: a run cut short keeps what it measured
    return 0 if all(g["met"] for g in goals(results)) else 1


def report(results: list[dict[str, Any]], args: argparse.Namespace, started: float) -> None:
    summary = goals(results)
    out = Console()
    table = Table(title=f"p50 ms (speedup over eager fp32), {args.threads} threads, {platform.processor() or 'CPU'}")
    for column in ("model", "batch", "runtime", "precision", "p50 ms", "IQR ms", "speedup"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["model"], str(r["batch_size"]), r["runtime"], r["precision"], f"{r['p50_ms']:.2f}",
            f"{r['p25_ms']:.2f}..{r['p75_ms']:.2f}", f"{r['speedup_vs_eager_fp32']:.2f}x",
        )  # fmt: skip
    out.print(table)
    for g in summary:
        verdict = "met" if g["met"] else "MISSED"
        out.print(
            f"{g['model']} batch {g['batch_size']}: fastest int8 {g['fastest_int8']} {g['p50_ms']:.2f} ms vs direct "
            f"OpenVINO int8 {g['direct_openvino_int8_ms']:.2f} ms ({g['ratio']:.2f}x, goal <= {GOAL:.2f}x): {verdict}"
        )
    out.print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"results": results, "goals": summary, "args": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    sys.exit(main())
