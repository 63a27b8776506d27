"""`bench list` and `bench summary`: the model zoo, counted for a data set's input.

Both commands take the input shape and class count from ``--dataset`` (default ``digits``,
as every command) and report what :func:`bench.zoo.create_model` builds for it, small-input
adaptations included. The counting lives in :mod:`bench.profiling.catalog`; this module only
parses and prints.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich import box

from bench.cli.args import add_dataset_arg, add_format_arg
from bench.cli.common import (
    FALLBACK_NUM_CLASSES,
    fmt_int,
    fmt_si,
    print_json,
    rows_table,
    stderr,
    stdout,
)
from bench.errors import EXIT_OK

if TYPE_CHECKING:  # the handlers import these lazily, keeping `bench --help` fast
    from bench.data import DatasetSpec
    from bench.profiling.catalog import DataInput


def _text(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def input_text(row: dict[str, Any]) -> str:
    """'1x63x63 (resized from 32)' when the data is resized up to the model's minimum."""
    if row["resized"]:
        return f"{row['input_size']} (resized from {row['data_image_size']})"
    return row["input_size"]


def small_input_text(row: dict[str, Any]) -> str:
    """What happened to this row's small input: 'resized' (up from the data set's size, in the
    title), 'adapted' (see the notes under the table), 'native', or '-' (not a small input)."""
    if row["resized"]:
        return "resized"
    if row["adaptation"]:
        return "adapted"
    return "native" if row["small_input"] == "native" and row["data_image_size"] < 224 else "-"


LIST_COLUMNS = (
    ("model", "model", _text),
    ("family", "family", _text),
    ("year", "year", _text),
    ("input_size", "input", _text),
    ("params", "params", fmt_int),
    ("macs", "MACs", fmt_si),
    ("small_input_text", "small input", _text),
)

SUMMARY_COLUMNS = (
    ("layer", "layer", _text),
    ("type", "type", _text),
    ("output_shape", "output", _text),
    ("params", "params", fmt_int),
    ("macs", "MACs", fmt_int),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    lister = subparsers.add_parser(
        "list",
        help="list the model zoo with params and MACs for a data set's input",
        description="One row per model of the zoo: family, year, the input it is fed for the "
        "data set (with the small-input adaptation), params and MACs per image (convolutions "
        "and linear layers; FLOPs = 2 x MACs).",
    )
    add_dataset_arg(lister)
    lister.add_argument("--models", default="all", metavar="SPEC", help="names or wildcards to list (default: all)")
    add_format_arg(lister)
    lister.set_defaults(func=run_list)

    summary = subparsers.add_parser(
        "summary",
        help="per-layer table of one model: output shapes, params, MACs",
        description="The model's leaf layers in execution order with output shape (per image), "
        "params and MACs, for the data set's input and class count, plus totals.",
    )
    summary.add_argument("model", metavar="MODEL", help="a zoo name, tv:NAME or timm:NAME")
    add_dataset_arg(summary)
    add_format_arg(summary)
    summary.set_defaults(func=run_summary)


def data_input(dataset_name: str) -> tuple[DatasetSpec, DataInput]:
    """The data set's spec and the channels, image size and class count it feeds a model."""
    from bench.data import get_dataset_spec
    from bench.profiling.catalog import DataInput

    spec = get_dataset_spec(dataset_name)
    num_classes = spec.num_classes or FALLBACK_NUM_CLASSES
    return spec, DataInput(in_chans=spec.in_chans, image_size=spec.image_size, num_classes=num_classes)


def data_title(spec: DatasetSpec, data: DataInput) -> str:
    """'digits (1x32x32, 10 classes)'; a class count the data decides is marked as assumed."""
    classes = f"{data.num_classes} classes" + (" assumed" if spec.num_classes is None else "")
    return f"{spec.name} ({data.in_chans}x{data.image_size}x{data.image_size}, {classes})"


def run_list(args: argparse.Namespace) -> int:
    from bench.profiling.catalog import model_row
    from bench.zoo import resolve_model_names

    dataset, data = data_input(args.dataset)
    names = resolve_model_names(args.models)
    rows = []
    with stderr.status("") as status:
        for index, name in enumerate(names, 1):
            status.update(f"counting {name} ({index}/{len(names)})")
            rows.append(model_row(name, data))
    if args.format == "json":
        print_json({"dataset": {"name": dataset.name, **asdict(data)}, "rows": rows})
        return EXIT_OK
    shown = ({**row, "small_input_text": small_input_text(row)} for row in rows)
    table = rows_table(shown, LIST_COLUMNS, title=f"bench list: {data_title(dataset, data)}")
    table.box, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, True  # 80 columns
    for column in table.columns:
        column.no_wrap = True
    stdout.print(table)
    for note in adaptation_notes(rows):
        stdout.print(note, highlight=False, markup=False)
    return EXIT_OK


def adaptation_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One line per distinct small-input adaptation, naming the models it applies to."""
    models_by_note: dict[str, list[str]] = {}
    for row in rows:
        if row["adaptation"] and not row["resized"]:
            models_by_note.setdefault(row["adaptation"], []).append(row["model"])
    return [f"adapted ({', '.join(models)}): {note}" for note, models in models_by_note.items()]


def run_summary(args: argparse.Namespace) -> int:
    from bench.profiling.catalog import summarize

    dataset, data = data_input(args.dataset)
    with stderr.status(f"counting {args.model}"):
        summary = summarize(args.model, data)
    if args.format == "json":
        print_json({"dataset": dataset.name, **asdict(summary)})
        return EXIT_OK
    shown = input_text(asdict(summary))
    title = f"{summary.model} on {dataset.name}: input {shown}, {summary.num_classes} classes"
    table = rows_table(summary.layers, SUMMARY_COLUMNS, title=title)
    table.add_section()
    table.add_row("total", "", "", fmt_int(summary.params), fmt_int(summary.macs))
    stdout.print(table)
    notes = [f"trainable params {summary.trainable_params:,}", f"FLOPs = 2 x MACs = {2 * summary.macs:,}"]
    if summary.adaptation:
        notes.append(f"small input: {summary.adaptation}")
    if summary.unsupported_ops:
        skipped = ", ".join(f"{op} x{count}" for op, count in summary.unsupported_ops.items())
        notes.append(f"not counted (not convolutions or linear layers): {skipped}")
    for note in notes:
        stdout.print(note, highlight=False, markup=False)
    return EXIT_OK
