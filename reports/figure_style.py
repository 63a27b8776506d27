"""How the report's figures look: colours, markers, log axes, legends and labels that never collide.

One colour per model from the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies; after eight models the colours repeat and the models are named on the figure),
one marker shape per variant kind. Point labels are placed by :func:`place_labels`: greedily,
in priority order, at the first of a ring of positions around the point whose text box (as the
renderer measures it) overlaps no placed label, no data point and stays inside the axes; a label
with no free position is left out and returned, so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import Bbox

from bench.viz.figures import DPI
from compress.prune_target import target_from_label
from compress.variants import BASELINE, QUANT_SCHEMES
from reports.tables import EAGER, Row, runtime_of

# Okabe & Ito (2008), "Color Universal Design"; yellow last, it is faint on white.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
NEUTRAL = "#6E6E6E"  # legend swatches that stand for a shape, not a model

MARKERS: dict[str, str] = {
    "baseline": "o",
    "pruned": "s",
    "latency-pruned": "v",
    "int8": "^",
    "pruned+int8": "D",
    "latency-pruned+int8": "d",
    "norm": "P",
}
LATENCY_KIND = "latency-pruned"  # pruned-2x: latency-aware, beside the uniform ratios' "pruned"
OTHER_MARKER = "X"
MARKER_PT = 6.0  # scatter marker size (points across): s = MARKER_PT ** 2
LOG_SPAN = 10.0  # a latency axis is logarithmic when its values span more than this factor


def variant_kind(variant: str) -> str:
    """The marker family of a variant name: pruned-50+int8 -> 'pruned+int8', norm-gn -> 'norm',
    pruned-2x -> 'latency-pruned' (latency-aware and uniform pruning get shapes of their own)."""
    parts = []
    for part in variant.split("+"):
        if part in QUANT_SCHEMES:
            kind = "int8"
        elif target_from_label(part) is not None:
            kind = LATENCY_KIND
        else:
            kind = part.split("-")[0]
        if kind not in parts:
            parts.append(kind)
    return "+".join(parts)


def marker_for(variant: str) -> str:
    return MARKERS.get(variant_kind(variant), OTHER_MARKER)


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """One palette colour per model, in order; colours repeat after :data:`OKABE_ITO` is used up."""
    return {model: OKABE_ITO[index % len(OKABE_ITO)] for index, model in enumerate(dict.fromkeys(models))}


def colors_unique(models: Sequence[str]) -> bool:
    """Whether every model has a colour of its own (else the figure names the models in place)."""
    return len(set(models)) <= len(OKABE_ITO)


def row_label(row: Row, *, with_model: bool = True) -> str:
    """'resnet20 int8' / 'int8' / 'resnet20 int8 openvino': what one point or bar stands for.

    The precision is named only where the variant name does not imply it, the runtime only
    where it is not eager, so today's rows read exactly as their variant names.
    """
    parts = [row["model"]] if with_model else []
    if row["variant"] != BASELINE or not with_model:
        parts.append(row["variant"])
    precision = row.get("precision")
    if precision not in (None, "fp32") and precision not in row["variant"].split("+"):
        parts.append(precision)
    if runtime_of(row) != EAGER:
        parts.append(runtime_of(row))
    elif row.get("compiled"):
        parts.append("compiled")
    return " ".join(parts)


def new_figure(width: float, height: float) -> Figure:
    """A figure at the DPI it is saved with, laid out by constrained layout (legends outside fit),
    on an Agg canvas so that text can be measured before saving."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def tick_text(value: float, _position: object = None) -> str:
    """Axis numbers as people write them: 0.5, 20, 5K, 2M, 1G (never 1e+06)."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def set_value_scale(axes: Axes, values: Sequence[float], axis: str = "x", *, counts: bool = False) -> bool:
    """Logarithmic when ``values`` span more than 10x (True then), else linear; plain tick numbers.

    Log ticks fall at 1-2-5 steps over up to about two decades, at powers of ten beyond that;
    ``counts`` (parameters, MACs) are written 5K, 2M, 1G, other values (ms, ratios) as plain numbers.
    """
    target = axes.xaxis if axis == "x" else axes.yaxis
    positive = [value for value in values if value and value > 0]
    span = max(positive) / min(positive) if positive else 1.0
    if span > LOG_SPAN:
        (axes.set_xscale if axis == "x" else axes.set_yscale)("log")
        subs = (1.0, 2.0, 5.0) if span <= 300 else (1.0,)
        target.set_major_locator(LogLocator(base=10, subs=subs))
        target.set_minor_formatter(NullFormatter())
    target.set_major_formatter(FuncFormatter(tick_text if counts else lambda value, _: f"{value:g}"))
    return span > LOG_SPAN


@dataclass(frozen=True)
class Label:
    """A text to put next to the data point (x, y); lower ``priority`` is placed first."""

    x: float
    y: float
    text: str
    priority: int = 0
    color: str = "black"


# Directions around a point (dx, dy), tried in this order, at growing distances (points).
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_DISTANCES = (4.0, 9.0, 16.0, 26.0, 40.0)
_LEADER_FROM = 16.0  # from this distance on, a thin line joins the label to its point
_PAD_PX = 1.5


def _padded(box: Bbox, pad: float) -> Bbox:
    return Bbox.from_extents(box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)


def _overlaps(box: Bbox, others: Sequence[Bbox]) -> bool:
    return any(box.overlaps(other) for other in others)


def text_box(text: Text, renderer) -> Bbox:
    """The box of a text alone (an annotation's own extent also spans its leader line)."""
    if isinstance(text, Annotation):
        text.update_positions(renderer)  # else an annotation not drawn yet sits at its offset from (0, 0)
    return Text.get_window_extent(text, renderer)


def place_labels(
    axes: Axes,
    labels: Sequence[Label],
    points: Sequence[tuple[float, float]],
    *,
    fontsize: float = 7.0,
    marker_pt: float = MARKER_PT,
    laid_out: bool = False,
) -> list[Label]:
    """Annotate ``axes`` with ``labels`` where they collide with nothing; returns those left out.

    ``points`` are every data point of the axes (data coordinates), which labels must not cover.
    Call once the axes' limits, scales and the figure's titles and legends are final; the figure
    is laid out here first unless ``laid_out`` says the caller just did.
    """
    figure = axes.get_figure()
    if not laid_out:
        figure.draw_without_rendering()  # final layout and limits, so display coordinates hold
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    radius = marker_pt / 2 * DPI / 72.0  # a marker's half size in pixels
    to_display = axes.transData.transform
    taken = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius) for x, y in map(to_display, points)]
    left_out = []
    for label in sorted(labels, key=lambda item: item.priority):
        if not _place_one(axes, label, renderer, frame, taken, fontsize):
            left_out.append(label)
    return left_out


def _candidate_box(anchor: tuple[float, float], size: tuple[float, float], offset: tuple[float, float]) -> Bbox:
    """Where a text of ``size`` (pixels) lands at ``offset`` (points) from ``anchor`` (pixels),
    aligned as :func:`_annotation` aligns it: away from the point on each axis."""
    (x, y), (width, height), (dx, dy) = anchor, size, offset
    x += dx * DPI / 72.0
    y += dy * DPI / 72.0
    x0 = x if dx > 0 else x - width if dx < 0 else x - width / 2
    y0 = y if dy > 0 else y - height if dy < 0 else y - height / 2
    return Bbox.from_extents(x0, y0, x0 + width, y0 + height)


def _inside(box: Bbox, frame: Bbox) -> bool:
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def _place_one(axes: Axes, label: Label, renderer, frame: Bbox, taken: list[Bbox], fontsize: float) -> bool:
    """Try the ring of positions arithmetically (the text's size is measured once), then confirm the
    chosen one with the drawn annotation's own box, which is what is kept as taken."""
    probe = _annotation(axes, label, (0.0, 0.0), fontsize, leader=False)
    measured = text_box(probe, renderer)
    probe.remove()
    anchor = axes.transData.transform((label.x, label.y))
    for distance in _DISTANCES:
        for dx, dy in _DIRECTIONS:
            offset = (dx * distance, dy * distance * (0.8 if dx else 1.0))
            guess = _padded(_candidate_box(anchor, (measured.width, measured.height), offset), _PAD_PX)
            if not _inside(guess, frame) or _overlaps(guess, taken):
                continue
            text = _annotation(axes, label, offset, fontsize, leader=distance >= _LEADER_FROM)
            box = _padded(text_box(text, renderer), _PAD_PX)
            if _inside(box, frame) and not _overlaps(box, taken):
                taken.append(box)
                return True
            text.remove()
    return False


def _annotation(axes: Axes, label: Label, offset: tuple[float, float], fontsize: float, *, leader: bool) -> Annotation:
    dx, dy = offset
    text = axes.annotate(
        label.text,
        (label.x, label.y),
        xytext=offset,
        textcoords="offset points",
        fontsize=fontsize,
        color=label.color,
        ha="left" if dx > 0 else "right" if dx < 0 else "center",
        va="bottom" if dy > 0 else "top" if dy < 0 else "center",
        arrowprops={"arrowstyle": "-", "color": "#444444", "linewidth": 0.7, "shrinkA": 0, "shrinkB": 3}
        if leader
        else None,
        annotation_clip=False,
    )
    text.set_in_layout(False)  # placed after the layout: it must not move the axes it was measured in
    return text
