"""The report's figures (matplotlib, PNG), drawn from stored rows and artifacts only.

Each function takes data and an output path and returns a :class:`PlotResult`: the path
written, or no path and the reason there was nothing to draw (a speed-only run has no
accuracy, a loaded model no training history), which the report prints instead of the
figure. Figures are built on :class:`matplotlib.figure.Figure` directly, never through
pyplot, so no global backend or state is touched, and are written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from bench.viz.evaluation_figures import variant_label
from bench.viz.figures import PlotResult, save_figure, skip_figure
from compress.variants import BASELINE
from reports.tables import Row, measure_label, ok_rows, speedups

_MARKERS = {"baseline": "o", "pruned": "s", "int8": "^", "pruned+int8": "D"}


def _variant_kind(variant: str) -> str:
    """pruned-50+int8 -> 'pruned+int8': the marker family of a variant name."""
    parts = [part.split("-")[0] for part in variant.split("+")]
    return "+".join(parts)


def _marker(variant: str) -> str:
    return _MARKERS.get(_variant_kind(variant), "x")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, higher y), by x.

    A point is dominated when another is at most as slow and at least as accurate, and
    strictly better on one of the two.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = float("-inf")
    for index in order:
        if points[index][1] > best_y:
            front.append(index)
            best_y = points[index][1]
    return front


def plot_accuracy_vs_latency(rows: Iterable[Row], path: Path) -> PlotResult:
    """Top-1 against latency p50 at the smallest batch size, one panel per device, Pareto front marked."""
    usable = [r for r in ok_rows(rows) if r.get("top1") is not None and r.get("latency_ms_p50") and r.get("batch_size")]
    if not usable:
        return skip_figure(
            "no row has both a top-1 and a latency (a speed-only run, e.g. synthetic data, has no accuracy)"
        )
    devices = list(dict.fromkeys(r["device"] for r in usable))
    figure = Figure(figsize=(6.5 * len(devices), 4.8))
    for axes, device in zip(figure.subplots(1, len(devices), squeeze=False)[0], devices):
        batch_size = min(r["batch_size"] for r in usable if r["device"] == device)
        points = [r for r in usable if r["device"] == device and r["batch_size"] == batch_size]
        xy = [(r["latency_ms_p50"], r["top1"]) for r in points]
        for row, (x, y) in zip(points, xy):
            axes.scatter(x, y, marker=_marker(row["variant"]), color="tab:blue", alpha=0.7)
            name = variant_label(row["model"], row["variant"])
            axes.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(xy)
        front_x, front_y = [xy[i][0] for i in front], [xy[i][1] for i in front]
        axes.plot(
            front_x, front_y, "-o", color="tab:red", mfc="none", ms=11, drawstyle="steps-post", label="Pareto front"
        )
        latencies = [x for x, _ in xy]
        if max(latencies) / min(latencies) > 20:
            axes.set_xscale("log")
        axes.set(xlabel=f"latency p50 (ms, batch {batch_size})", ylabel="top-1 (%)", title=device)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def plot_params_vs_macs(rows: Iterable[Row], path: Path) -> PlotResult:
    """Parameters against MACs per image, log scales, one point per model variant."""
    seen: dict[tuple[str, str], Row] = {}
    for row in ok_rows(rows):
        if (row.get("params") or 0) > 0 and (row.get("macs") or 0) > 0:
            seen.setdefault((row["model"], row["variant"]), row)
    if not seen:
        return skip_figure("no row has parameter and MAC counts")
    figure = Figure(figsize=(7, 5))
    axes = figure.subplots()
    colors = {model: f"C{i % 10}" for i, model in enumerate(dict.fromkeys(m for m, _ in seen))}
    for (model, variant), row in seen.items():
        axes.scatter(row["macs"], row["params"], marker=_marker(variant), color=colors[model], alpha=0.75)
        if variant == BASELINE:
            axes.annotate(model, (row["macs"], row["params"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for kind in dict.fromkeys(_variant_kind(v) for _, v in seen):  # a legend of marker shapes
        axes.scatter([], [], marker=_MARKERS.get(kind, "x"), color="gray", label=kind)
    axes.set(xscale="log", yscale="log", xlabel="MACs per image", ylabel="parameters")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, path)


def plot_speedup(rows: Iterable[Row], path: Path) -> PlotResult:
    """Measured speedup of each variant over its baseline, per device and batch size."""
    gains = [g for g in speedups(rows) if g["variant"] != BASELINE]
    if not gains:
        return skip_figure(
            "no compressed variant has a latency to compare with its baseline on the same device and batch size"
        )
    keys = list(dict.fromkeys((g["device"], g["batch_size"]) for g in gains))
    models = list(dict.fromkeys(g["model"] for g in gains))
    variants = list(dict.fromkeys(g["variant"] for g in gains))
    width = 0.8 / len(variants)
    figure = Figure(figsize=(max(6.0, 1.2 * len(models) + 2), 3.2 * len(keys)))
    for axes, key in zip(figure.subplots(len(keys), 1, squeeze=False)[:, 0], keys):
        for offset, variant in enumerate(variants):
            mine = [g for g in gains if g["variant"] == variant and (g["device"], g["batch_size"]) == key]
            values = {g["model"]: g["speedup"] for g in mine}
            xs = [i + offset * width for i, m in enumerate(models) if m in values]
            axes.bar(xs, [values[m] for m in models if m in values], width=width, label=variant)
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models, rotation=30, ha="right", fontsize=8)
        axes.set(ylabel="speedup (x)", title=measure_label(key))
        axes.legend(fontsize=7)
    figure.subplots_adjust(hspace=0.6)
    return save_figure(figure, path)
