"""Fixed result sets for the report tests: 1, 3 or all 23 zoo models, with realistic numbers.

Parameter and MAC counts are the zoo's on digits (`bench list`); latencies follow the MACs the
way a 2-core CPU run does; int8 is slower than float where real runs found it so (inception_v3,
googlenet, densenet121, lenet5 at batch 1) and loses more than half a point where they did
(inception_v3, resnet101). Values are derived from the model name, so every call gives the same
rows.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from bench.results.schema import make_row

# name: (params, MACs per image, input size) on digits, from `bench list`
ZOO: dict[str, tuple[int, int, str]] = {
    "alexnet": (57_029_322, 90_610_000, "1x63x63"),
    "densenet121": (6_957_834, 56_220_000, "1x32x32"),
    "googlenet": (5_603_882, 28_960_000, "1x32x32"),
    "inception_v3": (21_805_482, 200_710_000, "1x75x75"),
    "lenet5": (61_706, 416_520, "1x32x32"),
    "nin": (957_386, 212_660_000, "1x32x32"),
    "resnet101": (42_514_378, 157_590_000, "1x32x32"),
    "resnet152": (58_158_026, 233_350_000, "1x32x32"),
    "resnet18": (11_175_370, 35_410_000, "1x32x32"),
    "resnet20": (269_434, 40_260_000, "1x32x32"),
    "resnet34": (21_283_530, 73_160_000, "1x32x32"),
    "resnet50": (23_522_250, 81_830_000, "1x32x32"),
    "resnet56": (852_730, 125_190_000, "1x32x32"),
    "resnext50_32x4d": (22_994_122, 84_710_000, "1x32x32"),
    "vgg11": (9_749_770, 152_110_000, "1x32x32"),
    "vgg11_bn": (9_755_274, 152_110_000, "1x32x32"),
    "vgg13": (9_934_282, 227_610_000, "1x32x32"),
    "vgg13_bn": (9_940_170, 227_610_000, "1x32x32"),
    "vgg16": (15_243_978, 312_550_000, "1x32x32"),
    "vgg16_bn": (15_252_426, 312_550_000, "1x32x32"),
    "vgg19": (20_553_674, 397_480_000, "1x32x32"),
    "vgg19_bn": (20_564_682, 397_480_000, "1x32x32"),
    "zfnet": (58_292_170, 100_740_000, "1x53x53"),
}
THREE = ("lenet5", "resnet20", "vgg11_bn")
INT8_SLOWDOWN = {"inception_v3": 4.5, "googlenet": 2.6, "densenet121": 1.5, "lenet5": 1.4}  # int8 / fp32 at batch 1
INT8_DROP = {"inception_v3": 1.67, "resnet101": 1.11}  # top-1 points lost to int8
DEVICE_NAMES = {"cpu": "Intel(R) Xeon(R) Processor", "cuda:0": "NVIDIA H200"}


def _float_latency(macs: int, device: str, batch_size: int) -> float:
    if device == "cpu":
        return 0.12 + macs / 1.6e7 if batch_size == 1 else 0.4 + batch_size * macs / 3.5e7
    return (0.25 + macs**0.5 / 6000) * (1.0 if batch_size == 1 else 1.3)


def zoo_rows(
    models: Sequence[str] | int, *, devices: Sequence[str] = ("cpu",), batch_sizes: Sequence[int] = (1, 32)
) -> list[dict]:
    """Rows of a `bench run` over ``models`` (names, or the first N of 1, 3, 23 as the tests use)."""
    if isinstance(models, int):
        models = {1: ("resnet20",), 3: THREE}.get(models, tuple(ZOO)[:models])
    rows = []
    for model in models:
        params, macs, input_size = ZOO[model]
        rng = random.Random(model)
        base_top1 = round(rng.uniform(97.0, 99.6), 2)
        pruned = {"scale": 0.27, "speed": rng.uniform(0.45, 0.75), "drop": rng.uniform(0.2, 1.2)}
        int8 = {
            "speed": INT8_SLOWDOWN.get(model, rng.uniform(0.3, 0.6)),
            "drop": INT8_DROP.get(model, rng.uniform(0, 0.3)),
        }
        variants = {
            "baseline": (1.0, 1.0, 1.0, 0.0, "fp32"),
            "pruned-50": (pruned["scale"], pruned["scale"], pruned["speed"], pruned["drop"], "fp32"),
            "int8": (1.0, 0.26, int8["speed"], int8["drop"], "int8"),
            "pruned-50+int8": (
                pruned["scale"],
                pruned["scale"] * 0.26,
                pruned["speed"] * int8["speed"],
                pruned["drop"] + int8["drop"],
                "int8",
            ),
        }
        for variant, (count_scale, size_scale, speed, drop, precision) in variants.items():
            for device in devices if precision == "fp32" else ("cpu",):
                for batch_size in batch_sizes:
                    factor = speed if batch_size == 1 or precision == "fp32" else min(speed, 0.9)
                    p50 = _float_latency(macs, device, batch_size) * factor
                    status = "failed" if (model, variant) == ("resnet152", "pruned-50") else "ok"
                    rows.append(
                        make_row(
                            model=model,
                            variant=variant,
                            dataset="digits",
                            input_size=input_size,
                            num_classes=10,
                            device=device,
                            device_name=DEVICE_NAMES[device],
                            precision=precision,
                            batch_size=batch_size,
                            threads=2,
                            params=int(params * count_scale),
                            size_mb=params * 4 / 2**20 * size_scale,
                            macs=int(macs * count_scale),
                            latency_ms_p50=None if status != "ok" else p50,
                            latency_ms_p90=None if status != "ok" else p50 * 1.08,
                            latency_ms_mean=None if status != "ok" else p50 * 1.03,
                            iterations=200,
                            throughput_ips=None if status != "ok" else batch_size * 1000 / p50,
                            top1=None if status != "ok" else round(base_top1 - drop, 2),
                            status=status,
                            error="RuntimeError: pruning removed every channel of layer4.2.conv3"
                            if status != "ok"
                            else None,
                        )
                    )
    return rows


@pytest.fixture
def results_rows() -> Callable[..., list[dict]]:
    """The :func:`zoo_rows` factory: ``results_rows(3)``, ``results_rows(23, devices=("cpu", "cuda:0"))``."""
    return zoo_rows


# -- the readability check of every report figure ---------------------------------------------


def _texts(figure: Figure) -> list[Text]:
    """Every text a reader sees: titles, axis and tick labels, point labels, legend entries."""
    figure.draw_without_rendering()
    texts: list[Text] = [t for t in (figure._suptitle, *figure.texts) if t is not None]
    for axes in figure.axes:
        if not axes.get_visible():
            continue
        texts += [axes.title, axes._left_title, axes._right_title, axes.xaxis.label, axes.yaxis.label]
        texts += _drawn_tick_labels(axes.xaxis) + _drawn_tick_labels(axes.yaxis) + list(axes.texts)
    for legend in figure.legends + [a.get_legend() for a in figure.axes if a.get_legend()]:
        texts += [legend.get_title(), *legend.get_texts()]
    unique = {id(t): t for t in texts}.values()  # the suptitle is one of figure.texts too
    return [t for t in unique if t.get_visible() and t.get_text().strip()]


def _drawn_tick_labels(axis) -> list[Text]:
    """The tick labels drawn: the locator also returns ticks just outside the view, never drawn."""
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    return [tick.label1 for tick in axis.get_major_ticks() if low - span <= tick.get_loc() <= high + span]


def _box(text: Text, renderer) -> Bbox:
    # An annotation's own extent also spans its leader line: measure the text alone.
    if isinstance(text, Annotation):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def check_readable(figure: Figure) -> None:
    """No two texts overlap; no legend covers a data point or line vertex (matplotlib's own bounding boxes)."""
    renderer = figure.canvas.get_renderer()
    texts = _texts(figure)
    boxes = [_box(text, renderer) for text in texts]
    for i, j in itertools.combinations(range(len(texts)), 2):
        assert not boxes[i].overlaps(boxes[j]), f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}"
    points = []  # every marker and every vertex of a drawn line, in display coordinates
    for axes in figure.axes:
        if axes.get_visible():
            for collection in axes.collections:
                points += list(collection.get_offset_transform().transform(collection.get_offsets()))
            for line in axes.lines:
                points += list(line.get_transform().transform(line.get_xydata()))
    assert points
    for legend in figure.legends:
        frame = legend.get_window_extent(renderer)
        assert not any(frame.contains(x, y) for x, y in points), "a legend covers a data point"


@pytest.fixture
def assert_readable() -> Callable[[Figure], None]:
    """:func:`check_readable`: no two texts of a figure overlap, no legend covers a data point."""
    return check_readable
