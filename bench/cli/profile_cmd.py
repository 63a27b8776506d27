"""`bench profile MODELS`: params, size, MACs, latency, throughput and peak memory, no data needed.

The input shape and class count come from the data set's spec (``--dataset``, optionally
``--input-size``); the inputs are random tensors, the weights untrained (speed does not
depend on them). Rows follow the result schema; ``--format json`` prints
``{"run": environment, "rows": [...], "speedups": [...]}`` on stdout and nothing else there.

With ``--prune``/``--quantize`` the speedups over the baseline are measured apart from the
rows: baseline and variants timed in alternating rounds (:mod:`bench.profiling.speedup`), the
median ratio over the rounds reported with its lowest and highest round.

``--prune-target speedup:2`` adds ``pruned-2x``: latency-aware pruning measured on ``--device`` at
the first ``--batch-sizes`` entry with ``--threads`` (:mod:`compress.latency_prune`); its latency
table is cached under the checkpoint cache (``$CNNBENCH_CACHE_DIR``), so a rerun times only the
result. Its rows carry the goal, the speedup the search measured and the widths.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bench.cli.args import (
    add_batch_sizes_arg,
    add_compression_args,
    add_dataset_arg,
    add_device_arg,
    add_format_arg,
    add_input_size_arg,
    add_positive,
    add_runtime_arg,
    add_threads_arg,
    add_timing_args,
    check_compression_args,
    check_runtime_arg,
    parse_batch_sizes,
    timing_from_args,
)
from bench.cli.common import (
    FALLBACK_NUM_CLASSES,
    fmt_float,
    fmt_int,
    fmt_si,
    print_json,
    rows_table,
    stderr,
    stdout,
)
from bench.errors import EXIT_OK, BenchError
from bench.results.schema import DEFAULT_RUNTIME, Status

if TYPE_CHECKING:  # heavy imports stay inside the handler, so `bench --help` stays fast
    from torch import nn

    from bench.data import DatasetSpec
    from bench.profiling.profiler import ProfileOptions
    from compress.latency_prune import LatencySettings
    from compress.variants import Variant

CLI_PRECISIONS = ("fp32", "fp16", "bf16")
CPU = "cpu"  # int8 comes from --quantize, not --precision


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


TABLE_COLUMNS = (
    ("model", "model", _text),
    ("variant", "variant", _text),
    ("runtime", "runtime", _text),
    ("input_size", "input", _text),
    ("batch_size", "batch", fmt_int),
    ("params", "params", fmt_si),
    ("macs", "MACs", fmt_si),
    ("size_mb", "MiB", fmt_float(2)),
    ("latency_ms_p50", "p50 ms", fmt_float(3)),
    ("latency_ms_p90", "p90 ms", fmt_float(3)),
    ("throughput_ips", "img/s", fmt_float(1)),
    ("peak_mem_mb", "peak MiB", fmt_float(0)),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="measure params, MACs, latency, throughput and memory of models",
        description="Profile models on random inputs shaped like a data set's images: params, "
        "size, MACs/FLOPs (FLOPs = 2 x MACs, convolutions and linear layers), latency "
        "(mean/p50/p90/p99/std), throughput and peak memory per batch size.",
    )
    parser.add_argument("models", metavar="MODELS", help="comma-separated names or wildcards, or 'all'")
    add_dataset_arg(parser)
    add_input_size_arg(parser)
    add_positive(parser, "--num-classes", help="classifier outputs (default: the data set's)")
    add_device_arg(parser)
    add_batch_sizes_arg(parser, "1")
    parser.add_argument("--precision", default="fp32", metavar="fp32|fp16|bf16", help="autocast precision")
    parser.add_argument("--channels-last", action="store_true", help="model and inputs in channels_last")
    parser.add_argument("--compile", action="store_true", help="torch.compile (compile time reported apart)")
    add_threads_arg(parser)
    add_compression_args(parser, prune="none", quantize="none")
    add_runtime_arg(parser)
    parser.add_argument(
        "--max-drop",
        type=float,
        metavar="P",
        help="accepted for symmetry with bench run: untrained weights have no accuracy to keep, so int8 "
        "stays full int8 here (use bench run for the accuracy-aware search)",
    )
    add_timing_args(parser)
    add_format_arg(parser)
    parser.set_defaults(func=run_profile)


def plan_profile_variants(args: argparse.Namespace) -> list[Variant]:
    """The variants to profile from --prune/--quantize (validated by :func:`check_compression_args`)."""
    from bench.cli.args import prune_targets_of
    from compress.variants import plan_variants

    ratios, quantize = check_compression_args(args)
    return plan_variants(ratios, quantize, targets=prune_targets_of(args))


def build_variant(
    name: str,
    variant: Variant,
    *,
    num_classes: int,
    in_chans: int,
    input_size: int,
    criterion: str,
    engine: str,
    latency: LatencySettings | None = None,
) -> tuple[nn.Module, nn.Module, dict[str, Any]]:
    """A freshly built, untrained ``variant``: (model to time, float model for MACs, row fields).

    Speed-only what-ifs: pruning scores random inputs with compress's default criterion and
    int8 calibrates on seeded random inputs (the rows' ``weights``/``calibration`` say so):
    speed depends on the widths and kernels left, not on which channels the weights favoured.
    """
    import torch

    from bench.zoo import create_model
    from compress.apply import apply_variant

    torch.manual_seed(0)
    model = create_model(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size)
    shape = model.bench_cfg.input_size
    built = apply_variant(
        model, variant, example_inputs=torch.randn(1, *shape), criterion=criterion, engine=engine, latency=latency
    )
    extra: dict[str, Any] = {}
    if built.prune is not None:
        extra.update(prune_ratio=variant.prune_ratio, importance=built.prune.criterion)
    if built.latency is not None:
        from compress.latency_prune import latency_fields

        extra.update(importance=criterion, **latency_fields(built.latency))
    if built.quant is not None:
        extra.update(
            quant_engine=built.quant.engine,
            calibration=built.calibration,
            float_layers=",".join(built.quant.float_layers),
        )
    for module in (built.model, built.float_model):
        module.bench_cfg = model.bench_cfg
    return built.model, built.float_model, extra


def build_options(args: argparse.Namespace) -> ProfileOptions:
    """The profiler's options from the parsed flags; bad values are BenchErrors."""
    from bench.devices import resolve_device
    from bench.profiling.profiler import ProfileOptions

    precision = args.precision.strip().lower()
    if precision not in CLI_PRECISIONS:
        raise BenchError(
            f"unknown precision {args.precision!r}",
            f"use one of {', '.join(CLI_PRECISIONS)} (int8 comes from --quantize int8)",
        )
    timing = timing_from_args(args)
    return ProfileOptions(
        device=resolve_device(args.device),
        batch_sizes=parse_batch_sizes(args.batch_sizes),
        precision=precision,
        channels_last=args.channels_last,
        compile=args.compile,
        threads=args.threads,
        timing=timing,
    )


def _table_title(rows: list[dict[str, Any]]) -> str:
    """The settings shared by every row: device, precision, threads, layout, compile."""
    if not rows:
        return "bench profile"
    first = rows[0]
    settings = [f"{first['device']} ({first['device_name']})", str(first["precision"]), f"threads={first['threads']}"]
    settings += ["channels_last"] * bool(first["channels_last"]) + ["compiled"] * bool(first["compiled"])
    return "bench profile: " + ", ".join(settings)


def run_profile(args: argparse.Namespace) -> int:
    from bench.data import get_dataset_spec
    from bench.profiling.environment import collect_environment
    from bench.profiling.profiler import backend_flags
    from bench.training.requests import input_size_for
    from bench.zoo import get_model_spec, resolve_model_names

    names = resolve_model_names(args.models)
    dataset = get_dataset_spec(args.dataset)
    num_classes = args.num_classes or dataset.num_classes or FALLBACK_NUM_CLASSES
    variants = plan_profile_variants(args)
    options = build_options(args)
    runtimes = check_runtime_arg(args)
    if runtimes != (DEFAULT_RUNTIME,) and (options.device.type != "cpu" or options.compile):
        raise BenchError(
            f"--runtime {args.runtime}: converting runtimes run on the CPU, without --compile",
            "use --device cpu and drop --compile (or --runtime eager)",
        )
    _note_max_drop(args, variants)
    for name in names:
        size = input_size_for(get_model_spec(name), dataset, args.input_size)
        _check_memory(name, dataset, num_classes, size, variants, options)

    with backend_flags(options):  # the environment records the flags the measurement runs with
        run = collect_environment()
    rows: list[dict[str, Any]] = []
    speedups: list[dict[str, Any]] = []
    for name in names:
        size = input_size_for(get_model_spec(name), dataset, args.input_size)
        model_rows, built = _profile_variants(name, variants, dataset, num_classes, size, options, args, runtimes)
        rows.extend(model_rows)
        speedups.extend(_speedups(name, built, options))
    if args.format == "json":
        print_json({"run": run, "rows": rows, "speedups": speedups})
    else:
        _print_table(rows, options)
        if speedups:
            stdout.print(rows_table(speedups, SPEEDUP_COLUMNS, title=SPEEDUP_TITLE))
    return EXIT_OK


def _note_max_drop(args: argparse.Namespace, variants: list[Variant]) -> None:
    """``--max-drop`` is checked like `bench run`'s; with int8 it is said to change nothing here."""
    from bench.runner.config import check_max_drop

    if args.max_drop is None:
        return
    check_max_drop(args.max_drop)
    if any(v.is_quantized for v in variants):
        stderr.print(
            f"--max-drop {args.max_drop:g}: bench profile measures untrained weights on random inputs, where "
            "top-1 means nothing, so no layer is kept in float (bench run --max-drop searches on trained models)",
            highlight=False,
        )


SPEEDUP_TITLE = "speedup over the baseline, timed in alternating rounds (median; slowest..fastest round)"
SPEEDUP_COLUMNS = (
    ("model", "model", _text),
    ("variant", "variant", _text),
    ("batch_size", "batch", fmt_int),
    ("speedup", "speedup", fmt_float(2)),
    ("low", "slowest round", fmt_float(2)),
    ("high", "fastest round", fmt_float(2)),
)


def _speedups(name: str, built: list[tuple[str, nn.Module, tuple[int, int, int]]], options: ProfileOptions) -> list:
    """Interleaved speedups of the variants over the baseline (none without a baseline)."""
    from bench.profiling.speedup import interleaved_speedups
    from compress.variants import BASELINE

    if len(built) < 2 or built[0][0] != BASELINE:
        return []
    shape = built[0][2]
    models = [(variant, model) for variant, model, own in built if own == shape]
    stderr.print(f"timing {name}: {', '.join(v for v, _ in models)} in alternating rounds ...", highlight=False)
    return [s.to_dict() for s in interleaved_speedups(name, models, input_shape=shape, options=options)]


def _profile_variants(
    name: str,
    variants: list[Variant],
    dataset: DatasetSpec,
    num_classes: int,
    input_size: int,
    options: ProfileOptions,
    args: argparse.Namespace,
    runtimes: tuple[str, ...] = (DEFAULT_RUNTIME,),
) -> tuple[list[dict[str, Any]], list[tuple[str, nn.Module, tuple[int, int, int]]]]:
    """Rows of every variant of one model and runtime (a variant that cannot be built, or a
    runtime that cannot convert it, is a failed row), and the models built: (label, model,
    input shape); a converting runtime's model is labelled ``variant (runtime)``."""
    from bench.profiling.profiler import profile_model
    from bench.results.schema import format_input_size, make_row
    from bench.training.requests import WeightsSource
    from bench.zoo import get_model_spec

    base_row = {"dataset": dataset.name, "family": get_model_spec(name).family, "weights": WeightsSource.UNTRAINED}
    latency = _latency_settings(options, args.prune_budget)
    rows: list[dict[str, Any]] = []
    built: list[tuple[str, nn.Module, tuple[int, int, int]]] = []
    for variant in variants:
        if variant.is_latency_pruned and not variant.is_quantized:
            stderr.print(
                f"searching {name} {variant.name}: latency table, widths and measured speedup on {options.device} ...",
                highlight=False,
            )
        try:
            model, float_model, extra = build_variant(
                name,
                variant,
                num_classes=num_classes,
                in_chans=dataset.in_chans,
                input_size=input_size,
                criterion=args.importance,
                engine=args.engine,
                latency=latency,
            )
        except BenchError as exc:  # e.g. a model torch-pruning cannot prune: the other rows go on
            rows.append(make_row(model=name, variant=variant.name, **base_row, status=Status.FAILED, error=str(exc)))
            continue
        shape = model.bench_cfg.input_size
        if variant.is_latency_pruned and not variant.is_quantized:
            stderr.print(_search_line(name, variant.name, extra), highlight=False)
        stderr.print(f"profiling {name} {variant.name} at {format_input_size(shape)} ...", highlight=False)
        variant_row = {**base_row, "variant": variant.name, **extra}
        # int8 kernels run on the CPU, whatever --device says (the row's device says cpu)
        variant_options = replace(options, precision="int8", device=CPU) if variant.is_quantized else options
        for runtime in runtimes:
            if runtime == DEFAULT_RUNTIME:
                measured = profile_model(
                    model, input_shape=shape, options=variant_options, macs_model=float_model, base_row=variant_row
                )
                label: str = variant.name
            else:
                stderr.print(f"converting {name} {variant.name} for {runtime} ...", highlight=False)
                try:
                    deployed = _deploy(runtime, variant, float_model, tuple(shape), args.threads)
                    runtime_row = (
                        {**variant_row, "quant_engine": deployed.quant_engine} if variant.is_quantized else variant_row
                    )
                    measured = profile_model(
                        float_model, input_shape=shape, options=variant_options, base_row=runtime_row, executor=deployed
                    )
                except Exception as exc:
                    error = f"{runtime}: {type(exc).__name__}: {exc}".splitlines()[0][:500]
                    rows.append(
                        make_row(
                            model=name,
                            **variant_row,
                            runtime=runtime,
                            precision=variant_options.precision,
                            status=Status.FAILED,
                            error=error,
                        )  # fmt: skip
                    )
                    continue
                model, label = deployed.as_module(), f"{variant.name} ({runtime})"
            rows.extend(measured)
            if all(row["status"] == Status.OK for row in measured):  # an out-of-memory variant is not timed again
                built.append((label, model, tuple(shape)))
    return rows, built


def _search_line(name: str, variant: str, extra: dict[str, Any]) -> str:
    """One line on what the latency search measured: the speedup against its goal."""
    goal = float(extra["prune_target"].partition(":")[2])
    measured = extra["prune_speedup_measured"]
    verdict = "reached" if measured >= goal else "missed"
    return (
        f"{name} {variant}: measured {measured:.2f}x over the baseline at batch {extra['prune_search_batch']} "
        f"(goal {goal:g}x, {verdict})"
    )


def _latency_settings(options: ProfileOptions, budget_s: float) -> LatencySettings:
    """Where `bench profile`'s latency-aware variants measure: its device, first batch size,
    threads and timing flags (the measured check); the latency table cached under the checkpoint cache."""
    from bench.training.checkpoint import default_cache_dir
    from compress.latency_prune import LatencySettings

    return LatencySettings(
        device=str(options.device),
        batch_size=options.batch_sizes[0],
        threads=options.threads,
        budget_s=budget_s,
        cache_dir=default_cache_dir(),
        check_timing=options.timing,
    )


def _deploy(runtime: str, variant: Variant, float_model: nn.Module, shape: tuple[int, ...], threads: int | None) -> Any:
    """``variant``'s float model converted for ``runtime``; int8 calibrates on the seeded random
    inputs the eager int8 row calibrates on."""
    import torch

    from compress.quantization import random_calibration_batches
    from compress.runtimes import runtime_module

    calib = random_calibration_batches(shape, seed=0) if variant.is_quantized else []
    precision = "int8" if variant.is_quantized else "fp32"
    return runtime_module(runtime).deploy(
        float_model.cpu().eval(), precision, example=torch.zeros(1, *shape), calib_batches=calib, threads=threads
    )


def _print_table(rows: list[dict[str, Any]], options: ProfileOptions) -> None:
    columns = TABLE_COLUMNS + ((("compile_ms", "compile ms", fmt_float(0)),) if options.compile else ())
    if any(row["status"] != Status.OK for row in rows):
        columns += (("status", "status", _text),)
    stdout.print(rows_table(rows, columns, title=_table_title(rows)))
    for row in rows:
        if row["status"] != Status.OK:
            batch = f" batch {row['batch_size']}" if row["batch_size"] else ""
            stderr.print(f"{row['model']} {row['variant']}{batch}: {row['error']}", highlight=False, markup=False)


def _check_memory(
    name: str, dataset: DatasetSpec, num_classes: int, input_size: int, variants: list[Variant], options: ProfileOptions
) -> None:
    """Refuse (exit 2) a shape whose largest batch cannot fit, before any model is built."""
    import torch

    from bench.profiling.memory_estimate import check_model_fits

    fits = {"in_chans": dataset.in_chans, "input_size": input_size, "num_classes": num_classes}
    fits |= {"infer_batch": max(options.batch_sizes), "fix": "pass a smaller --input-size or --batch-sizes"}
    check_model_fits(name, **fits, device=options.device, precision=options.precision)
    if any(v.is_quantized for v in variants) and options.device.type != CPU:  # int8 runs on the CPU
        check_model_fits(name, **fits, device=torch.device(CPU), precision="int8")
