"""Do pruning and int8 make the models faster on the CPU, and does every model compress? (issue 4)

Part 1, speed (in one run): at ImageNet size (3x224x224), batch 1, on the CPU at
``--threads`` threads, the median latency of fp32 vs ``int8`` for resnet18 and resnet50,
and of ``baseline`` vs ``pruned-50`` for resnet50. The variants of a model are timed in
alternating rounds, so drift on a busy machine hits them alike; each figure is the median
of the rounds' p50s. Targets: int8 >= 2.3x, pruned-50 >= 2.5x. Untrained weights (speed
only); int8 is calibrated on ``--calib-images`` seeded random images.

Part 2, coverage (``--check all`` or a model spec): every model yields ``pruned-50``,
``int8`` and ``pruned-50+int8`` at 1x32x32 with 10 classes; the pruned float model runs
forward and backward in train mode, and the int8 model forward, with the right output shape.

    python benchmarks/compress_speedups.py                 # speed, then coverage of `all`
    python benchmarks/compress_speedups.py --check none    # speed only
    python benchmarks/compress_speedups.py --speed none --check lenet5,resnet*

Exit code 0 when every target is met and every model compresses, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass

# Set before OpenMP starts: on a shared CPU, threads that spin while waiting lose their cores
# to other processes and a 2-thread forward pass took 20x longer (900 ms instead of 40 ms for
# resnet18); passive waiting keeps the figures stable. An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from bench.profiling.timing import TimingConfig, measure_latency
from bench.zoo import create_model, resolve_model_names
from compress.apply import apply_variant
from compress.model_state import macs_per_image, param_count

IMAGENET_SHAPE = (3, 224, 224)
CHECK_SHAPE = (1, 32, 32)
CHECK_CLASSES = 10
CHECK_VARIANTS = ("pruned-50", "int8", "pruned-50+int8")
# (model, variant, target speedup over the same model's baseline)
SPEED_CASES = (
    ("resnet18", "int8", 2.3),
    ("resnet50", "int8", 2.3),
    ("resnet50", "pruned-50", 2.5),
)

console = Console(width=160)  # full rows also when piped to a file


@dataclass
class Timed:
    model: str
    variant: str
    macs: int
    params: int
    p50s_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.p50s_ms)


def speed(models: list[str], *, threads: int, rounds: int, min_time: float, calib_images: int) -> bool:
    """Part 1: time each model's variants in alternating rounds; print the table; targets met?"""
    torch.set_num_threads(threads)
    config = TimingConfig(warmup_iters=5, warmup_s=0.5, min_iters=10, min_time_s=min_time)
    example = torch.randn(1, *IMAGENET_SHAPE)
    all_met = True
    table = Table(title=f"batch 1, 3x224x224, CPU, {threads} threads, median of {rounds} rounds")
    for column in (
        "model",
        "variant",
        "GMACs",
        "params (M)",
        "p50 ms",
        "rounds' p50 range",
        "speedup",
        "target",
        "met",
    ):
        table.add_column(column, justify="left" if column in ("model", "variant") else "right")
    for name in models:
        torch.manual_seed(0)
        baseline = create_model(name, num_classes=1000, in_chans=3, input_size=224).eval()
        compressed = {
            variant: apply_variant(baseline, variant, example_inputs=example, calib_images=calib_images)
            for variant in ["baseline"] + [v for m, v, _ in SPEED_CASES if m == name]
        }
        timed = {
            variant: Timed(name, variant, macs_per_image(c.float_model, IMAGENET_SHAPE), param_count(c.float_model), [])
            for variant, c in compressed.items()
        }
        with torch.inference_mode():
            for _ in range(rounds):
                for variant, c in compressed.items():
                    model = c.model.eval()
                    stats = measure_latency(lambda m=model: m(example), device="cpu", config=config)
                    timed[variant].p50s_ms.append(stats.p50_ms)
        base_ms = timed["baseline"].median_ms
        for variant, result in timed.items():
            target = next((t for m, v, t in SPEED_CASES if m == name and v == variant), None)
            speedup = base_ms / result.median_ms
            met = target is None or speedup >= target
            all_met &= met
            table.add_row(
                name,
                variant,
                f"{result.macs / 1e9:.2f}",
                f"{result.params / 1e6:.1f}",
                f"{result.median_ms:.1f}",
                f"{min(result.p50s_ms):.1f}-{max(result.p50s_ms):.1f}",
                f"{speedup:.2f}x",
                f">= {target}x" if target else "",
                ("yes" if met else "NO") if target else "",
            )
    console.print(table)
    return all_met


def check(models: list[str], *, calib_images: int) -> bool:
    """Part 2: every model yields every variant, and each runs with the right output shape."""
    torch.set_num_threads(1)  # small tensors: a second thread only adds OpenMP waits on a busy box
    table = Table(title=f"variants at {'x'.join(map(str, CHECK_SHAPE))}, {CHECK_CLASSES} classes")
    for column in ("model", "input", "variant", "status", "MACs kept", "seconds", "error"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")  # full errors go to stderr
    all_ok = True
    for name in models:
        torch.manual_seed(0)
        model = create_model(name, num_classes=CHECK_CLASSES, in_chans=CHECK_SHAPE[0], input_size=CHECK_SHAPE[1])
        shape = model.bench_cfg.input_size
        for variant in CHECK_VARIANTS:
            start = time.perf_counter()
            kept, error = "", ""
            try:
                compressed = apply_variant(
                    model, variant, example_inputs=torch.randn(1, *shape), calib_images=calib_images
                )
                _run_variant(compressed.model, compressed.quant is None, shape)
                if compressed.prune is not None:
                    kept = f"{compressed.prune.macs_fraction:.2f}"
            except Exception as exc:  # a coverage report: record the failure and go on
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}"
                traceback.print_exc(file=sys.stderr)
            all_ok &= not error
            table.add_row(
                name,
                "x".join(map(str, shape)),
                variant,
                "ok" if not error else "FAILED",
                kept,
                f"{time.perf_counter() - start:.1f}",
                error,
            )
    console.print(table)
    return all_ok


def _run_variant(model: nn.Module, is_float: bool, shape: tuple[int, ...]) -> None:
    """Pruned float: forward + backward in train mode; int8: forward. Output must be (2, classes)."""
    inputs = torch.randn(2, *shape)
    if is_float:
        model.train()
        outputs = model(inputs)
        logits = outputs[0] if isinstance(outputs, tuple) else outputs
        logits.sum().backward()
    else:
        with torch.no_grad():
            logits = model(inputs)
    if tuple(logits.shape) != (2, CHECK_CLASSES):
        raise AssertionError(f"output shape {tuple(logits.shape)}, expected (2, {CHECK_CLASSES})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", default="resnet18,resnet50", help="models to time, or none")
    parser.add_argument("--check", default="all", help="model spec to check every variant of, or none")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per timing")
    parser.add_argument("--calib-images", type=int, default=32, help="random calibration images")
    args = parser.parse_args(argv)
    console.print(
        f"torch {torch.__version__}, quantized engines {torch.backends.quantized.supported_engines}, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    ok = True
    if args.speed != "none":
        ok &= speed(
            args.speed.split(","),
            threads=args.threads,
            rounds=args.rounds,
            min_time=args.min_time,
            calib_images=args.calib_images,
        )
    if args.check != "none":
        ok &= check(resolve_model_names(args.check), calib_images=min(args.calib_images, 8))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
