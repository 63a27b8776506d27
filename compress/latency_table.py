"""The measured latency table behind latency-aware pruning, and the device's channel multiple.

:func:`build_latency_table` times, on the device being measured, the whole model with one
prunable group (named by its root layer, :func:`compress.pruning.group_roots`) narrowed to a
few kept widths while every other group stays full. Each point is timed in alternating
rounds against the full model (:class:`InterleavedTimer`, built on
:func:`bench.profiling.timing.measure_interleaved`), and stored as the baseline latency times
the per-round ratio, so a slow phase of the machine moves both alike. These points are what
:func:`compress.latency_search.greedy_path` reads (:meth:`LatencyTable.rows`); the search's
prediction never reaches a reported number (:mod:`compress.latency_prune` measures the result).

**Channel multiple** (:func:`measure_multiple`): the model's largest convolution (by MACs) is
rebuilt alone at its real input shape and timed at the widths ``w, w-1, ..., w-63`` (or down
to 1). If latency follows the padded width (a staircase: oneDNN's blocked layouts, tensor
cores), every multiple ``m`` of the step is the last width before a jump: the smallest of
:data:`MULTIPLES` whose boundaries (``t(k*m + 1) - t(k*m)``, three in four of them) jump by more than
:data:`STEP_TOLERANCE` of the latency and more than three times the typical step between
other widths is the device's multiple. No such ``m`` (a smooth curve): the multiple is 1.
Candidate widths and the search's steps are multiples of it.

**Bounded**: ``budget_s`` (wall clock, probe and tracing included). Points are measured in
passes: every group at the first fraction of :data:`DEFAULT_FRACTIONS`, then every group at
the next, and so on; when the budget runs out the table keeps what it has, with fewer widths
per group (groups with no narrowed point are never narrowed by the search) and ``truncated``
set. Within a pass the groups go in descending order of their root layer's MACs, so a budget
that runs out leaves the cheapest layers unmeasured. Up to :data:`POINTS_PER_CALL` narrowed models are timed in one interleaved call with the
full model (fewer warm-ups and collections); the budget is checked before each call, so it is
overrun by at most one call. The narrowed models come from one trace of the model (:class:`compress.pruning.Narrower`),
not one per point. A cached table cut short by a smaller budget than the one asked for is measured again.

**Cached**: one JSON file per model name, input shape, batch size, device (its name: CPU model
or GPU), torch version, thread count and the groups' structure, under
``<cache>/latency/<model>-<CxHxW>-b<batch>-<device>-<digest>.json`` (the key digested as the
checkpoint and pruned-model caches digest theirs: SHA-256 over the sorted JSON key). A rerun
reads it and times nothing. Scores (importance) are not cached: they depend on the weights,
the timings do not.

The timer and the clock are injectable (``timer``, ``clock``): tests use a fake timer whose
latency is a formula of the layers' widths.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from bench.atomic import atomic_write_text
from bench.profiling.timing import TimingConfig, percentile
from compress.importance import DEFAULT_CRITERION
from compress.latency_search import GroupRow
from compress.model_state import preserved_state
from compress.pruning import Narrower, group_roots

TABLE_VERSION = 1
DEFAULT_FRACTIONS = (0.5, 0.25, 0.75)  # kept fractions, in the order the passes measure them
MULTIPLES = (2, 4, 8, 16, 32)  # candidate channel multiples; none stepping -> 1
MULTIPLE_WINDOW = 64  # widths the probe times: two steps of the largest candidate
STEP_TOLERANCE = 0.005  # a boundary jumps when latency rises by more than 0.5% of it (and past the noise)
PROBE_SHARE = 0.25  # at most this share of the budget goes to the multiple probe
# Short measurements for the table: many points, each a ratio against the full model.
TABLE_TIMING = TimingConfig(warmup_iters=2, warmup_s=0.02, min_iters=6, min_time_s=0.09, max_time_s=5.0, blocks=3)
TABLE_ROUNDS = 3
POINTS_PER_CALL = 8  # narrowed models timed in one interleaved call with the full model


@dataclass(frozen=True)
class Timed:
    """Modules timed in alternating rounds: each one's median (ms) and, per module, its speedup
    over the first as (median, slowest, fastest) of the per-round ratios."""

    ms: tuple[float, ...]
    speedups: tuple[tuple[float, float, float], ...]


class Timer(Protocol):
    def __call__(self, modules: Sequence[nn.Module], inputs: torch.Tensor) -> Timed: ...


@dataclass(frozen=True)
class InterleavedTimer:
    """The real timer: :func:`bench.profiling.timing.measure_interleaved` on ``device`` with
    ``threads`` intra-op threads, eval and inference mode, as `bench profile`'s speedups run."""

    device: str = "cpu"
    threads: int | None = None
    config: TimingConfig = TABLE_TIMING
    rounds: int = TABLE_ROUNDS

    def __call__(self, modules: Sequence[nn.Module], inputs: torch.Tensor) -> Timed:
        from bench.profiling.complexity import eval_mode
        from bench.profiling.profiler import thread_count
        from bench.profiling.timing import measure_interleaved

        device = torch.device(self.device)
        placed = inputs.to(device)
        with contextlib.ExitStack() as stack:
            for module in modules:
                stack.enter_context(eval_mode(module))
                module.to(device)
            stack.enter_context(thread_count(self.threads))
            stack.enter_context(torch.inference_mode())
            calls = [lambda module=module: module(placed) for module in modules]
            result = measure_interleaved(calls, rounds=self.rounds, device=device, config=self.config)
        return Timed(tuple(s.p50_ms for s in result.stats), tuple(result.speedup(i) for i in range(len(modules))))


@dataclass(frozen=True)
class GroupPoints:
    """One group's full width and measured (kept width, whole-model ms) points, full width included."""

    width: int
    points: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class MultipleProbe:
    """How the channel multiple was found: the layer timed, its widths and their latencies."""

    layer: str
    widths: tuple[int, ...]
    ms: tuple[float, ...]
    multiple: int


@dataclass(frozen=True)
class LatencyTable:
    """Whole-model latencies with one group narrowed at a time (module docstring)."""

    key: dict[str, Any]
    baseline_ms: float
    multiple: int
    probe: MultipleProbe | None
    groups: dict[str, GroupPoints]
    truncated: bool  # the budget ran out before every planned width was measured
    seconds: float  # wall time it took to build (0 when read from the cache)
    budget_s: float
    from_cache: bool = False
    path: str | None = None

    def rows(
        self,
        scores: Mapping[str, Sequence[float]],
        losses: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ) -> dict[str, GroupRow]:
        """The search's rows: these points with ``scores`` (importance per channel, by group)
        and, when measured, ``losses`` ((kept width, loss rise) by group)."""
        return {
            name: GroupRow(
                group.width, group.points, tuple(float(s) for s in scores[name]), tuple((losses or {}).get(name, ()))
            )
            for name, group in self.groups.items()
            if name in scores
        }

    def narrowed_widths(self) -> dict[str, tuple[int, ...]]:
        """Each group's measured widths below its full width."""
        return {name: tuple(w for w, _ in g.points if w < g.width) for name, g in self.groups.items()}

    @property
    def measured_points(self) -> int:
        return sum(len(group.points) - 1 for group in self.groups.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TABLE_VERSION,
            "key": self.key,
            "baseline_ms": self.baseline_ms,
            "multiple": self.multiple,
            "probe": None if self.probe is None else self.probe.__dict__,
            "groups": {
                name: {"width": g.width, "points": [list(p) for p in g.points]} for name, g in self.groups.items()
            },
            "truncated": self.truncated,
            "seconds": self.seconds,
            "budget_s": self.budget_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str | None = None) -> LatencyTable:
        probe = data.get("probe")
        return cls(
            key=data["key"],
            baseline_ms=float(data["baseline_ms"]),
            multiple=int(data["multiple"]),
            probe=None
            if probe is None
            else MultipleProbe(probe["layer"], tuple(probe["widths"]), tuple(probe["ms"]), int(probe["multiple"])),
            groups={
                name: GroupPoints(int(g["width"]), tuple((int(w), float(ms)) for w, ms in g["points"]))
                for name, g in data["groups"].items()
            },
            truncated=bool(data["truncated"]),
            seconds=float(data["seconds"]),
            budget_s=float(data["budget_s"]),
            from_cache=True,
            path=path,
        )


@dataclass(frozen=True)
class TableRequest:
    """Where and how to measure a table: the device, batch size, threads, budget and cache."""

    device: str = "cpu"
    batch_size: int = 1
    threads: int | None = None
    budget_s: float = 300.0
    cache_dir: Path | None = None  # None: nothing is read or written
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    criterion: str = DEFAULT_CRITERION


def table_key(
    model: nn.Module, input_shape: Sequence[int], request: TableRequest, widths: Mapping[str, int]
) -> dict[str, Any]:
    """What a table's latencies depend on: model, input shape, batch, device, environment, structure."""
    from bench.profiling.environment import device_name

    cfg = getattr(model, "bench_cfg", None)
    device = torch.device(request.device)
    return {
        "version": TABLE_VERSION,
        "model": getattr(cfg, "name", None) or type(model).__name__,
        "input_shape": [int(s) for s in input_shape],
        "batch_size": request.batch_size,
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": request.threads or torch.get_num_threads(),
        "fractions": list(request.fractions),
        "groups": dict(sorted(widths.items())),
    }


def table_path(cache_dir: Path | None, key: dict[str, Any]) -> Path | None:
    """``<cache>/latency/<model>-<CxHxW>-b<batch>-<device>-<digest>.json`` (None without a cache)."""
    if cache_dir is None:
        return None
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    shape = "x".join(str(s) for s in key["input_shape"])
    device = key["device"].replace(":", "")
    return (
        Path(cache_dir).expanduser() / "latency" / f"{key['model']}-{shape}-b{key['batch_size']}-{device}-{digest}.json"
    )


def read_table(path: Path | None, key: dict[str, Any], budget_s: float = math.inf) -> LatencyTable | None:
    """The cached table at ``path`` when it is whole and for ``key``; else None (measured again).
    A table cut short by a smaller budget than ``budget_s`` is measured again with the larger one."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        table = LatencyTable.from_dict(data, path=str(path))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None if table.truncated and table.budget_s < budget_s else table


def candidate_width(width: int, fraction: float, multiple: int) -> int | None:
    """The kept width for ``fraction`` of ``width``, a multiple of ``multiple`` when the group is
    at least two multiples wide; None when it would keep the full width."""
    exact = width * fraction
    kept = multiple * max(1, round(exact / multiple)) if width >= 2 * multiple else max(1, round(exact))
    return kept if kept < width else None


def build_latency_table(
    model: nn.Module,
    example_inputs: torch.Tensor,
    request: TableRequest = TableRequest(),
    *,
    timer: Timer | None = None,
    clock: Callable[[], float] = time.perf_counter,
    roots: Sequence[tuple[str, Any]] | None = None,
) -> LatencyTable:
    """The table of ``model`` (not changed) at ``request.batch_size`` inputs shaped like
    ``example_inputs``; from the cache when it holds this key, else measured within the budget."""
    started = clock()
    timer = timer or InterleavedTimer(request.device, request.threads)
    reference = copy.deepcopy(model).cpu()
    found = list(roots) if roots is not None else group_roots(reference, example_inputs[:1], request.criterion)
    widths = {name: group.slice_width for name, group in found}
    shape = tuple(example_inputs.shape[1:])
    key = table_key(model, shape, request, widths)
    path = table_path(request.cache_dir, key)
    cached = read_table(path, key, request.budget_s)
    if cached is not None:
        return cached
    inputs = torch.randn(request.batch_size, *shape, generator=torch.Generator().manual_seed(0))
    deadline = started + request.budget_s
    probe = measure_multiple(
        reference, inputs, timer=timer, clock=clock, deadline=started + request.budget_s * PROBE_SHARE
    )
    multiple = probe.multiple if probe is not None else 1
    # the narrowed models are pruned on the CPU, from a copy the timer never moves to the device
    narrower = Narrower(reference, example_inputs[:1].cpu(), criterion=request.criterion)
    macs = layer_macs(reference, inputs)
    order = sorted(widths, key=lambda name: -macs.get(name, (0,))[0])  # costly layers first, in case the budget ends
    baseline_ms = timer([reference], inputs).ms[0]
    points: dict[str, list[tuple[int, float]]] = {name: [(width, baseline_ms)] for name, width in widths.items()}
    truncated = False
    for fraction in request.fractions:
        pending = [(name, candidate_width(widths[name], fraction, multiple)) for name in order]
        pending = [(name, kept) for name, kept in pending if kept is not None and kept not in dict(points[name])]
        for start in range(0, len(pending), POINTS_PER_CALL):
            if clock() >= deadline:
                truncated = True
                break
            chunk = pending[start : start + POINTS_PER_CALL]
            timed = timer([reference, *(narrower.narrowed(name, kept) for name, kept in chunk)], inputs)
            for (name, kept), speedup in zip(chunk, timed.speedups[1:]):
                points[name].append((kept, baseline_ms / speedup[0]))
        if truncated:
            break
    table = LatencyTable(
        key=key,
        baseline_ms=baseline_ms,
        multiple=multiple,
        probe=probe,
        groups={name: GroupPoints(widths[name], tuple(sorted(pts))) for name, pts in points.items()},
        truncated=truncated,
        seconds=clock() - started,
        budget_s=request.budget_s,
        path=None if path is None else str(path),
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(table.to_dict(), sort_keys=True))
    return table


@dataclass(frozen=True)
class _ConvInput:
    """The largest convolution of a model, the input shape it saw and its MACs per image."""

    name: str
    module: nn.Conv2d
    shape: tuple[int, ...]
    macs: int


def layer_macs(model: nn.Module, inputs: torch.Tensor) -> dict[str, tuple[int, tuple[int, ...], nn.Module]]:
    """Every convolution's and linear layer's multiply-adds per image, input shape and module,
    by name, from one forward pass at batch 1 (``model`` left as it was)."""
    found: dict[str, tuple[int, tuple[int, ...], nn.Module]] = {}
    hooks = []

    def hook(name: str, module: nn.Module) -> Callable[..., None]:
        def record(_: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if isinstance(module, nn.Linear):
                macs = out.numel() // out.shape[0] * module.in_features
            else:
                per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
                macs = out.numel() // out.shape[0] * per_output
            found[name] = (macs, tuple(args[0].shape), module)

        return record

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            hooks.append(module.register_forward_hook(hook(name, module)))
    try:
        with preserved_state(model, train=False), torch.no_grad():
            model(inputs[:1])
    finally:
        for handle in hooks:
            handle.remove()
    return found


def representative_conv(model: nn.Module, inputs: torch.Tensor) -> _ConvInput | None:
    """The ungrouped 2-d convolution doing the most multiply-adds, with its input shape."""
    convs = [
        (macs, name, shape, module)
        for name, (macs, shape, module) in layer_macs(model, inputs).items()
        if isinstance(module, nn.Conv2d) and module.groups == 1
    ]
    if not convs:
        return None
    macs, name, shape, module = max(convs, key=lambda item: item[0])
    return _ConvInput(name, module, shape, macs)


def probe_widths(width: int) -> list[int]:
    """``w, w-1, ...``: :data:`MULTIPLE_WINDOW` widths ending at the largest multiple of the
    window not above ``width`` (or every width down to 1 for a narrow layer)."""
    top = width // MULTIPLE_WINDOW * MULTIPLE_WINDOW if width >= MULTIPLE_WINDOW else width
    return list(range(top, max(0, top - MULTIPLE_WINDOW), -1))


def measure_multiple(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    timer: Timer,
    clock: Callable[[], float] = time.perf_counter,
    deadline: float = math.inf,
) -> MultipleProbe | None:
    """Time the model's largest convolution alone at :func:`probe_widths` and read the multiple
    off the curve (:func:`multiple_from_curve`); None for a model without such a convolution."""
    conv = representative_conv(model, inputs)
    if conv is None:
        return None
    layer = conv.module
    widths = probe_widths(layer.out_channels)
    probe_input = torch.randn(inputs.shape[0], *conv.shape[1:], generator=torch.Generator().manual_seed(1))
    convs = [
        nn.Conv2d(
            layer.in_channels,
            w,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            bias=layer.bias is not None,
        )
        for w in widths
    ]
    ms: list[float] = []
    chunk = 16  # timed in chunks, so a budget that runs out keeps the widths measured so far
    for start in range(0, len(convs), chunk):
        if clock() >= deadline and ms:
            break
        ms.extend(timer(convs[start : start + chunk], probe_input).ms)
    measured = widths[: len(ms)]
    return MultipleProbe(conv.name, tuple(measured), tuple(ms), multiple_from_curve(measured, ms))


def multiple_from_curve(widths: Sequence[int], ms: Sequence[float]) -> int:
    """The smallest of :data:`MULTIPLES` at whose every multiple latency steps up (module
    docstring); 1 when none does."""
    at = dict(zip(widths, ms))
    if len(at) < 4:
        return 1
    typical = statistics.median(at.values())
    for m in MULTIPLES:
        boundary = [at[w + 1] - at[w] for w in at if w % m == 0 and w + 1 in at]
        inner = [abs(at[w + 1] - at[w]) for w in at if w % m and w + 1 in at]
        if not boundary or not inner:
            continue
        threshold = max(STEP_TOLERANCE * typical, 3 * statistics.median(inner))
        if percentile(sorted(boundary), 25) > threshold:  # (nearly) every boundary steps, not some
            return m
    return 1
