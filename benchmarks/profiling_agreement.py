"""Does `bench profile` agree with torch.utils.benchmark.Timer? (issue 2's acceptance check)

In one process, for each model at 3x224x224, batch 1, on the CPU, this measures the median
latency twice: with cnnbench's profiler (bench.profiling.profile_model, p50) and with
``torch.utils.benchmark.Timer(...).blocked_autorange()`` (median), both at the same thread
count (the Timer defaults to one thread, so it is set explicitly on both) and both under
inference mode. The two are measured in alternating rounds, so drift on a busy machine hits
both alike; the verdict uses the median of the rounds and passes within ``--tolerance``.

    python benchmarks/profiling_agreement.py --models resnet18,resnet50,vgg16 --threads 1

The models are torchvision's (the zoo builds the same architectures), with random weights.
Exit code 0 when every model agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
import torchvision
from torch.utils import benchmark

from bench.profiling.profiler import ProfileOptions, profile_model
from bench.profiling.timing import TimingConfig

INPUT_SHAPE = (3, 224, 224)


def profiler_median_ms(model: torch.nn.Module, threads: int, min_time_s: float) -> float:
    """cnnbench's p50 latency at batch 1 (its own warm-up included)."""
    options = ProfileOptions(
        device=torch.device("cpu"),
        batch_sizes=[1],
        threads=threads,
        timing=TimingConfig(min_time_s=min_time_s),
    )
    (row,) = profile_model(model, input_shape=INPUT_SHAPE, options=options)
    return row["latency_ms_p50"]


def timer_median_ms(model: torch.nn.Module, threads: int, min_time_s: float) -> float:
    """torch.utils.benchmark's blocked_autorange median at batch 1."""
    inputs = torch.randn(1, *INPUT_SHAPE)
    timer = benchmark.Timer(stmt="model(inputs)", globals={"model": model, "inputs": inputs}, num_threads=threads)
    with torch.inference_mode():
        model(inputs)  # the Timer has no warm-up of its own beyond its first block
        measurement = timer.blocked_autorange(min_run_time=min_time_s)
    return measurement.median * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18", help="torchvision names, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--tolerance", type=float, default=0.10, help="allowed |ratio - 1|")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), batch 1, 3x224x224, CPU; "
        f"{args.rounds} alternating rounds of >= {args.min_time:g} s each"
    )
    print(f"{'model':<10} {'round':>5} {'profiler p50 ms':>16} {'Timer median ms':>16} {'ratio':>7}")
    all_agree = True
    for name in args.models.split(","):
        model = torchvision.models.get_model(name.strip(), weights=None).eval()
        ours: list[float] = []
        theirs: list[float] = []
        for round_index in range(1, args.rounds + 1):
            ours.append(profiler_median_ms(model, args.threads, args.min_time))
            theirs.append(timer_median_ms(model, args.threads, args.min_time))
            print(f"{name:<10} {round_index:>5} {ours[-1]:>16.2f} {theirs[-1]:>16.2f} {ours[-1] / theirs[-1]:>7.3f}")
        ratio = statistics.median(ours) / statistics.median(theirs)
        agrees = abs(ratio - 1.0) <= args.tolerance
        all_agree &= agrees
        print(
            f"{name:<10} {'all':>5} {statistics.median(ours):>16.2f} {statistics.median(theirs):>16.2f} "
            f"{ratio:>7.3f}  {'agree' if agrees else 'DISAGREE'} (tolerance {args.tolerance:.0%})"
        )
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
