"""Does pt2e int8 quantize every model of the zoo? (issue 13, point 2)

For each model (default ``all``) at 1x32x32 (the zoo's size for digits; inception_v3 at its
own minimum) with 10 classes and random weights: export, X86InductorQuantizer, calibrate on
32 seeded random images, convert, count the quantize/dequantize nodes (none is a failure) and
compare the reference int8 outputs with the float ones (cosine similarity of the logits).
``--compile`` also lowers each int8 graph with Inductor (freezing) and runs it: minutes per
large model on 2 cores.

    python benchmarks/pt2e_coverage.py                 # every model
    python benchmarks/pt2e_coverage.py --models resnet*,densenet121 --compile

Exit code 0 when every model quantizes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch import nn

from bench.zoo import create_model, resolve_model_names
from compress.pt2e import quantize_pt2e
from compress.quantization import random_calibration_batches
from compress.runtimes import runtime_module


def check(name: str, compile_too: bool) -> str:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=1, input_size=32).eval()
    shape = tuple(model.bench_cfg.input_size)
    calib = random_calibration_batches(shape, 32, seed=0)
    start = time.perf_counter()
    result = quantize_pt2e(model, calib, example_inputs=calib[0][:1])
    inputs = torch.randn(4, *shape)
    with torch.no_grad():
        cosine = nn.functional.cosine_similarity(model(inputs).flatten(), result.model(inputs).flatten(), dim=0)
    line = (
        f"{name}: {result.quantize_nodes} q / {result.dequantize_nodes} dq nodes, "
        f"{'strict' if result.strict_export else 'non-strict + split'} export, cosine {cosine:.3f}, "
        f"{time.perf_counter() - start:.1f} s"
    )
    if compile_too:
        deployed = runtime_module("compile").deploy(model, "int8", example=calib[0][:1], calib_batches=calib)
        start = time.perf_counter()
        deployed.as_module()(inputs)
        line += f"; compiled int8 ran ({time.perf_counter() - start:.0f} s to compile)"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    failed = 0
    for name in resolve_model_names(args.models):
        try:
            print(check(name, args.compile), flush=True)
        except Exception as exc:
            failed += 1
            print(f"{name}: FAILED {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", flush=True)
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
