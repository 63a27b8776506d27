"""The report's figures of a run's rows (matplotlib, PNG): accuracy vs latency, size vs cost, speedups.

Each ``draw_*`` function returns a :class:`~matplotlib.figure.Figure`, or the reason there is
nothing to draw (a speed-only run has no accuracy), which the report prints instead; each
``plot_*`` function draws and writes the PNG atomically (:func:`bench.viz.figures.save_figure`).
Figures are built on ``Figure`` directly, never through pyplot, so no global state is touched.
Every figure has one panel per device and batch size where latency is involved, a title that
says what is plotted on what data, its legend outside the data and labels that overlap nothing
(:mod:`reports.figure_style`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bench.viz.figures import PlotResult, save_figure, skip_figure
from compress.variants import BASELINE
from reports.figure_style import (
    MARKER_PT,
    MARKERS,
    NEUTRAL,
    OKABE_ITO,
    OTHER_MARKER,
    Label,
    colors_unique,
    marker_for,
    model_colors,
    new_figure,
    place_labels,
    row_label,
    set_value_scale,
    variant_kind,
)
from reports.tables import Row, is_eager_float, ok_rows, speedups

Drawn = Figure | str  # a figure, or why there is none


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


def save_drawn(drawn: Drawn, path: Path) -> PlotResult:
    """Write a drawn figure, or pass on the reason there is none."""
    return skip_figure(drawn) if isinstance(drawn, str) else save_figure(drawn, path)


# -- what the figures say about the data ---------------------------------------------------------


def _unique(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def data_context(rows: Sequence[Row], *, split: str = "") -> str:
    """'digits test split, input 1x32x32': the data set(s) and input size(s) of a figure's rows."""
    datasets = _unique(row.get("dataset") for row in rows if row.get("dataset"))
    sizes = _unique(row.get("input_size") for row in rows if row.get("input_size"))
    parts = [", ".join(datasets) + (f" {split}" if split else "")] if datasets else []
    if len(sizes) == 1:
        parts.append(f"input {sizes[0]}")
    elif sizes:
        parts.append(f"inputs {', '.join(sorted(sizes, key=_pixels))} (each model's own)")
    return ", ".join(parts)


def _pixels(size: str) -> int:
    product = 1
    for part in str(size).split("x"):
        product *= int(part) if part.isdigit() else 1
    return product


Panel = tuple[str, int]  # (device, batch_size)


def panels_of(rows: Sequence[Row]) -> list[Panel]:
    """The (device, batch size) settings of ``rows``: devices in order of appearance, batches ascending."""
    devices = _unique(row["device"] for row in rows)
    keys = _unique((row["device"], row["batch_size"]) for row in rows)
    return sorted(keys, key=lambda key: (devices.index(key[0]), key[1]))


def panel_title(rows: Sequence[Row], panel: Panel) -> str:
    """'cpu (Intel Xeon, 2 threads), batch 1': where and how the panel's latencies were measured."""
    device, batch_size = panel
    mine = [row for row in rows if (row["device"], row["batch_size"]) == panel]
    details = _unique(row.get("device_name") for row in mine if row.get("device_name"))[:1]
    threads = _unique(row.get("threads") for row in mine if row.get("threads"))
    if device == "cpu" and len(threads) == 1:
        details.append(f"{threads[0]} threads")
    where = f"{device} ({', '.join(details)})" if details else device
    return f"{where}, batch {batch_size}"


def _grid(figure: Figure, panels: Sequence[Panel], **kwargs) -> dict[Panel, Axes]:
    """One axes per panel: a row per device, a column per batch size; unused cells hidden."""
    devices = _unique(device for device, _ in panels)
    columns = max(sum(device == d for d, _ in panels) for device in devices)
    grid = figure.subplots(len(devices), columns, squeeze=False, **kwargs)
    placed: dict[Panel, Axes] = {}
    for row_index, device in enumerate(devices):
        mine = [panel for panel in panels if panel[0] == device]
        for column, panel in enumerate(mine):
            placed[panel] = grid[row_index][column]
        for column in range(len(mine), columns):
            grid[row_index][column].set_visible(False)
    return placed


def _shape_handles(variants: Iterable[str]) -> list[Line2D]:
    """Legend entries for the marker shape of each variant kind present."""
    kinds = _unique(variant_kind(variant) for variant in variants)
    return [
        Line2D([], [], marker=MARKERS.get(kind, OTHER_MARKER), color=NEUTRAL, linestyle="none", label=kind)
        for kind in kinds
    ]


def _model_handles(colors: dict[str, str]) -> list[Patch]:
    """Colour swatches (not markers: a circle would read as the baseline's shape)."""
    return [Patch(facecolor=color, label=model) for model, color in colors.items()]


def _note_handle(text: str) -> Line2D:
    """A legend line of text only (no symbol): notes stay outside the data with the legend."""
    return Line2D([], [], linestyle="none", marker="none", label=text)


def _legends(figure: Figure, keys: list[Line2D], models: list[Patch] | None = None) -> Legend:
    """Legends outside every panel: the key (shapes, lines, notes) below, model colours at the right.

    Returns the key, whose last entry may be a note filled in by :func:`_labelled`.
    """
    key = figure.legend(
        handles=keys, loc="outside lower center", ncols=len(keys) if len(keys) <= 7 else 4, fontsize=8, frameon=False
    )
    if models:
        figure.legend(handles=models, loc="outside right center", fontsize=8, title="model", title_fontsize=8)
    return key


def _labelled(
    figure: Figure, key: Legend, panels: Sequence[tuple[Axes, list[Label], list[tuple[float, float]]]]
) -> None:
    """Place every panel's labels once titles and legends are in place (so the layout no longer
    moves the axes they are measured in), then write how many found no room in the key's last,
    reserved entry (a note of one line, so the layout stays as measured)."""
    figure.draw_without_rendering()  # the final layout: labels are kept out of it, so it holds for all panels
    left_out = sum(len(place_labels(axes, labels, points, laid_out=True)) for axes, labels, points in panels)
    if left_out:
        key.get_texts()[-1].set_text(f"{left_out} label{'s' if left_out != 1 else ''} left out: no room")


def _scatter(axes: Axes, x: float, y: float, row: Row, color: str) -> None:
    axes.scatter(
        x,
        y,
        s=MARKER_PT**2,
        marker=marker_for(row["variant"]),
        color=color,
        edgecolors="white",
        linewidths=0.5,
        zorder=3,
    )


# -- accuracy vs latency ---------------------------------------------------------------------------

LABEL_ALL_UP_TO = 12  # panels with at most this many points label every point, others the Pareto front


def draw_accuracy_vs_latency(rows: Iterable[Row]) -> Drawn:
    """Top-1 against latency p50, one panel per device and batch size, the Pareto front marked and labelled."""
    usable = [r for r in ok_rows(rows) if r.get("top1") is not None and r.get("latency_ms_p50") and r.get("batch_size")]
    if not usable:
        return "no row has both a top-1 and a latency (a speed-only run, e.g. synthetic data, has no accuracy)"
    models = _unique(row["model"] for row in usable)
    colors = model_colors(models)
    name_models = not colors_unique(models)  # colours repeat: each model is named at its baseline point
    panels = panels_of(usable)
    columns, devices = _grid_shape(panels)
    many = not colors_unique(models)
    figure = new_figure((7.5 if many else 5.0) * columns + 1.2, (5.5 if many else 3.9) * devices + 1.0)
    placements = []
    for panel, axes in _grid(figure, panels, sharey=True).items():
        mine = [row for row in usable if (row["device"], row["batch_size"]) == panel]
        xy = [(row["latency_ms_p50"], row["top1"]) for row in mine]
        for row, (x, y) in zip(mine, xy):
            _scatter(axes, x, y, row, colors[row["model"]])
        front = pareto_front(xy)
        axes.plot(
            [xy[i][0] for i in front], [xy[i][1] for i in front], drawstyle="steps-post", color=NEUTRAL, linestyle="--",
            linewidth=0.9, zorder=2,
        )  # fmt: skip
        log = set_value_scale(axes, [x for x, _ in xy])
        axes.margins(x=0.08, y=0.12)
        axes.set_title(panel_title(mine, panel), fontsize=9)
        axes.set_xlabel("latency p50 per batch (ms)" + (", log scale" if log else ""))
        axes.grid(True, which="major", alpha=0.3)
        placements.append((axes, _accuracy_labels(mine, front, len(models) > 1, name_models), xy))
    for axes in figure.axes:
        if axes.get_visible() and axes.get_subplotspec().is_first_col():
            axes.set_ylabel("top-1 (%)")
    figure.axes[0].set_ylim(*top1_limits([row["top1"] for row in usable]))  # shared by every panel
    figure.suptitle(
        f"Top-1 accuracy vs latency per batch\ntop-1 on the {data_context(usable, split='test split')}", fontsize=11
    )
    keys = _shape_handles(row["variant"] for row in usable)
    keys.append(Line2D([], [], color=NEUTRAL, linestyle="--", label="Pareto front"))
    if name_models:
        keys.append(_note_handle("names: each model's baseline"))
    show_models = len(models) > 1 and not name_models
    key = _legends(figure, [*keys, _note_handle("")], _model_handles(colors) if show_models else None)
    _labelled(figure, key, placements)
    return figure


def top1_limits(values: Sequence[float]) -> tuple[float, float]:
    """The top-1 axis range: the values with a margin, at least a point wide, never far past 100%."""
    low, high = min(values), max(values)
    pad = max(0.5, 0.12 * (high - low))
    return low - pad, min(high + pad, 100.4)


def _accuracy_labels(rows: Sequence[Row], front: Sequence[int], with_model: bool, name_models: bool) -> list[Label]:
    """The Pareto points first; then every other point of a sparse panel, or each model's name."""

    def label(row: Row, priority: int, text: str | None = None) -> Label:
        return Label(row["latency_ms_p50"], row["top1"], text or row_label(row, with_model=with_model), priority)

    labels = [label(rows[i], 0) for i in front]
    rest = [row for i, row in enumerate(rows) if i not in set(front)]
    if len(rows) <= LABEL_ALL_UP_TO:
        labels += [label(row, 1) for row in rest]
    elif name_models:
        named = {rows[i]["model"] for i in front}
        for model in _unique(row["model"] for row in rest):
            first = _first_point(rows, model)
            if first is not None and model not in named:
                labels.append(label(first, 1, model))
    return labels


def _grid_shape(panels: Sequence[Panel]) -> tuple[int, int]:
    """(columns, rows) of the panel grid: the most batch sizes of a device, the number of devices."""
    devices = _unique(device for device, _ in panels)
    return max(sum(d == device for d, _ in panels) for device in devices), len(devices)


def _first_point(rows: Sequence[Row], model: str) -> Row | None:
    mine = [row for row in rows if row["model"] == model]
    return next((row for row in mine if row["variant"] == BASELINE), mine[0] if mine else None)


def plot_accuracy_vs_latency(rows: Iterable[Row], path: Path) -> PlotResult:
    return save_drawn(draw_accuracy_vs_latency(rows), path)


# -- parameters vs MACs ------------------------------------------------------------------------------


def draw_params_vs_macs(rows: Iterable[Row]) -> Drawn:
    """Parameters against MACs per image, one point per distinct model variant, every model named once.

    An int8 variant has its float twin's counts, so it would hide behind it: such repeats are
    dropped and the legend says so.
    """
    seen: dict[tuple[str, int, int], Row] = {}
    repeats = 0
    for row in ok_rows(rows):
        if (row.get("params") or 0) > 0 and (row.get("macs") or 0) > 0:
            key = (row["model"], row["params"], row["macs"])
            if key in seen and seen[key]["variant"] != row["variant"]:
                repeats += 1
            seen.setdefault(key, row)
    if not seen:
        return "no row has parameter and MAC counts"
    points = list(seen.values())
    models = _unique(row["model"] for row in points)
    colors = model_colors(models)
    size = 6.0 if colors_unique(models) else 8.5
    figure = new_figure(size + 1.5, size * 0.75 + 0.6)
    axes = figure.subplots()
    for row in points:
        _scatter(axes, row["macs"], row["params"], row, colors[row["model"]])
    logs = [
        set_value_scale(axes, [row[field] for row in points], axis, counts=True)
        for axis, field in (("x", "macs"), ("y", "params"))
    ]
    axes.margins(0.08)
    axes.grid(True, which="major", alpha=0.3)
    axes.set_xlabel("MACs per image" + (", log scale" if logs[0] else ""))
    axes.set_ylabel("parameters" + (", log scale" if logs[1] else ""))
    figure.suptitle(f"Parameters vs compute per image\n{data_context(points)}", fontsize=11)
    if len(points) <= LABEL_ALL_UP_TO:
        labels = [Label(row["macs"], row["params"], row_label(row), 0) for row in points]
    else:
        firsts = [_first_point(points, model) for model in models]
        labels = [Label(row["macs"], row["params"], row["model"], 0) for row in firsts if row is not None]
    keys = _shape_handles(row["variant"] for row in points)
    if len(points) > LABEL_ALL_UP_TO:
        keys.append(_note_handle("names: each model's baseline"))
    if repeats:
        keys.append(_note_handle("int8 variants: their float twin's counts"))
    key = _legends(
        figure, [*keys, _note_handle("")], _model_handles(colors) if len(models) > 1 and colors_unique(models) else None
    )
    _labelled(figure, key, [(axes, labels, [(row["macs"], row["params"]) for row in points])])
    return figure


def plot_params_vs_macs(rows: Iterable[Row], path: Path) -> PlotResult:
    return save_drawn(draw_params_vs_macs(rows), path)


# -- speedups ------------------------------------------------------------------------------------------


def _series_style(series: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A (marker, colour) per series (variant, runtime, precision): shapes by kind, colours in palette order."""
    return {name: (marker_for(name.split(" ")[0]), OKABE_ITO[i % len(OKABE_ITO)]) for i, name in enumerate(series)}


def draw_speedup(rows: Iterable[Row]) -> Drawn:
    """Measured speedup of each variant over its baseline's eager fp32 row: a dot per model and
    variant, one panel per device and batch size on one shared scale, 1x (the baseline) marked."""
    good = ok_rows(rows)
    gains = [g for g in speedups(good) if g["variant"] != BASELINE or not is_eager_float(g)]
    if not gains:
        return "no compressed variant has a latency to compare with its baseline on the same device and batch size"
    for gain in gains:
        gain["label"] = row_label(gain, with_model=False)
    models = _unique(g["model"] for g in gains)
    series = _unique(g["label"] for g in gains)
    style = _series_style(series)
    panels = panels_of(gains)
    columns, devices = _grid_shape(panels)
    figure = new_figure(4.2 * columns + 1.0, max(2.4, 0.3 * len(models) + 1.2) * devices + 1.0)
    step = 0.6 / max(1, len(series))
    grid = _grid(figure, panels, sharex=True, sharey=True)
    for panel, axes in grid.items():
        mine = [g for g in gains if (g["device"], g["batch_size"]) == panel]
        for index, name in enumerate(series):
            points = [g for g in mine if g["label"] == name]
            ys = [models.index(g["model"]) + (index - (len(series) - 1) / 2) * step for g in points]
            marker, color = style[name]
            axes.scatter([g["speedup"] for g in points], ys, marker=marker, color=color, s=MARKER_PT**2, zorder=3)
        axes.axvline(1.0, color="black", linewidth=0.8, zorder=1)
        for index in range(1, len(models), 2):  # banded rows: a model's dots read as one line
            axes.axhspan(index - 0.5, index + 0.5, color="#F2F2F2", zorder=0, linewidth=0)
        axes.set_yticks(range(len(models)), models, fontsize=8)
        axes.set_ylim(len(models) - 0.5, -0.5)
        axes.set_title(panel_title([r for r in good if (r["device"], r["batch_size"]) == panel], panel), fontsize=9)
        axes.grid(True, axis="x", which="major", alpha=0.3)
    log = set_value_scale(next(iter(grid.values())), [g["speedup"] for g in gains] + [1.0])
    for axes in grid.values():
        if axes.get_subplotspec().is_last_row():
            axes.set_xlabel("speedup (x)" + (", log scale" if log else ""))
    figure.suptitle(
        f"Speedup over the eager fp32 baseline (latency p50 ratio; right of the 1x line = faster)\n{data_context(good)}",
        fontsize=11,
    )
    keys = [
        Line2D([], [], marker=style[name][0], color=style[name][1], linestyle="none", label=name) for name in series
    ]
    _legends(figure, keys)
    return figure


def plot_speedup(rows: Iterable[Row], path: Path) -> PlotResult:
    return save_drawn(draw_speedup(rows), path)


# The figures of a run's rows, by report file name: what tests render and the report embeds.
ROW_FIGURES: dict[str, Callable[[Iterable[Row]], Drawn]] = {
    "accuracy_vs_latency.png": draw_accuracy_vs_latency,
    "params_vs_macs.png": draw_params_vs_macs,
    "speedup.png": draw_speedup,
}
