"""``report.md`` and ``figures/*.png`` of a run directory, rebuilt from ``results.db`` alone.

Nothing is recomputed: the tables and figures come from the stored rows and artifacts, so
the same database always gives the same report. Rebuilding is crash-safe: every figure and
then ``report.md`` are replaced atomically, and figures the new report no longer shows are
removed only after it is in place, so a report on disk never points at a missing figure.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.atomic import atomic_write_text
from bench.results.schema import SCHEMA_VERSION
from bench.results.store import EVALUATION, HISTORY, ResultStore
from bench.viz.evaluation_figures import plot_confusion_matrix, plot_training_curves
from bench.viz.figures import PlotResult
from compress.variants import BASELINE
from reports import plots
from reports.tables import Row, compression_table, failures_table, model_table, ok_rows, to_markdown

REPORT_MD = "report.md"
FIGURES_DIR = "figures"

# Run-info keys (bench.profiling.environment.collect_environment) and their labels, in
# report order; other keys follow sorted, "config" gets its own table.
ENVIRONMENT_LABELS: tuple[tuple[str, str], ...] = (
    ("created", "when"),
    ("argv", "command"),
    ("git_commit", "git commit"),
    ("python", "Python"),
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("cuda", "CUDA"),
    ("cudnn", "cuDNN"),
    ("cpu_model", "CPU"),
    ("cpu_threads", "CPU threads"),
    ("gpu_name", "GPU"),
    ("quantized_engine", "quantized engine"),
    ("platform", "platform"),
)


@dataclass(frozen=True)
class RunData:
    """What the report is built from: the store's contents, read once."""

    info: dict[str, Any]
    rows: list[Row]
    histories: dict[tuple[str, str], Any]
    evaluations: dict[tuple[str, str], Any]


@dataclass(frozen=True)
class FigureSpec:
    """A report figure: its file, its title, and the plot function fed one field of RunData."""

    filename: str
    title: str
    draw: Callable[[Any, Path], PlotResult]
    source: str  # "rows", "histories" or "evaluations"

    def build(self, data: RunData, figures_dir: Path) -> PlotResult:
        return self.draw(getattr(data, self.source), figures_dir / self.filename)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("accuracy_vs_latency.png", "Accuracy vs latency", plots.plot_accuracy_vs_latency, "rows"),
    FigureSpec("params_vs_macs.png", "Parameters vs MACs", plots.plot_params_vs_macs, "rows"),
    FigureSpec("speedup.png", "Speedup per variant", plots.plot_speedup, "rows"),
    FigureSpec("training_curves.png", "Training curves", plot_training_curves, "histories"),
    FigureSpec("confusion_matrix.png", "Best model's confusion matrix", plot_confusion_matrix, "evaluations"),
)


def read_run(run_dir: str | Path) -> RunData:
    """The store's contents; a missing run directory or database is a BenchError."""
    with ResultStore(run_dir, create=False) as store:
        return RunData(
            info=store.run_info(),
            rows=store.rows(),
            histories=store.artifacts(HISTORY),
            evaluations=store.artifacts(EVALUATION),
        )


def write_report(run_dir: str | Path) -> Path:
    """Rebuild ``report.md`` and its figures from the run directory's ``results.db``."""
    run_dir = Path(run_dir)
    data = read_run(run_dir)
    figures_dir = run_dir / FIGURES_DIR
    outcomes = [(spec, spec.build(data, figures_dir)) for spec in FIGURES]
    report = run_dir / REPORT_MD
    atomic_write_text(report, render_report(data, outcomes))
    for spec, outcome in outcomes:
        if outcome.path is None:
            (figures_dir / spec.filename).unlink(missing_ok=True)  # stale figure of an earlier build
    return report


def render_report(data: RunData, figures: Iterable[tuple[FigureSpec, PlotResult]]) -> str:
    """The markdown text: header, environment, tables, failures, figures."""
    parts = [_header(data), _environment(data.info), _results(data.rows), _failures(data.rows), _figures(figures)]
    return "\n".join(part for part in parts if part)


def _format_argv(argv: Any) -> str:
    if isinstance(argv, (list, tuple)) and argv:
        return shlex.join([Path(str(argv[0])).name, *map(str, argv[1:])])
    return str(argv)


def _header(data: RunData) -> str:
    info = data.info
    lines = ["# cnnbench report", ""]
    if "argv" in info:
        lines.append(f"Command: `{_format_argv(info['argv'])}`  ")
    if info.get("created"):
        lines.append(f"When: {info['created']}  ")
    lines.append(
        f"Results: `results.db` (schema version {SCHEMA_VERSION}), exported to `results.json` and `results.csv`."
    )
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    """Settings as text: a version number (cuDNN's 92600) is a label, not a quantity to format."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return "-" if value is None else str(value)


def _environment(info: dict[str, Any]) -> str:
    if not info:
        return "## Environment\n\nNo environment was recorded for this run.\n"
    known = dict(ENVIRONMENT_LABELS)
    shown = {key: _format_argv(value) if key == "argv" else _show(value) for key, value in info.items()}
    items = [(label, shown[key]) for key, label in ENVIRONMENT_LABELS if key in info]
    items += [(key, shown[key]) for key in sorted(info) if key not in known and key != "config"]
    text = "## Environment\n\n" + to_markdown(pd.DataFrame(items, columns=["", "value"]))
    config = info.get("config")
    if isinstance(config, dict) and config:
        settings = [(key, _show(value)) for key, value in config.items()]
        text += "\n### Configuration\n\n" + to_markdown(pd.DataFrame(settings, columns=["setting", "value"]))
    return text


def _results(rows: list[Row]) -> str:
    statuses = [row.get("status") for row in rows]
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = [
        "## Results",
        "",
        f"{len(rows)} rows over {len(models)} models: {statuses.count('ok')} ok, "
        f"{statuses.count('failed')} failed, {statuses.count('skipped')} skipped.",
        "",
        "### Models (baseline)",
        "",
    ]
    table = model_table(rows)
    lines.append(to_markdown(table) if len(table) else "No baseline row finished.\n")
    compressed = [m for m in models if any(r["model"] == m and r["variant"] != BASELINE for r in ok_rows(rows))]
    lines += ["### Compression", ""]
    if compressed:
        lines.append(
            "Reductions are baseline / variant; speedups are baseline latency p50 / variant latency p50 on the "
            "same device and batch size (int8 runs on the CPU and meets the baseline's CPU rows).\n"
        )
    else:
        lines.append("No compressed variant finished in this run.\n")
    for model in compressed:
        lines += [f"#### {model}", "", to_markdown(compression_table(rows, model))]
    return "\n".join(lines)


def _failures(rows: list[Row]) -> str:
    table = failures_table(rows)
    body = to_markdown(table) if len(table) else "None: every row is ok.\n"
    return "## Failures\n\n" + body


def _figures(figures: Iterable[tuple[FigureSpec, PlotResult]]) -> str:
    lines = ["## Figures", ""]
    for spec, outcome in figures:
        lines += [f"### {spec.title}", ""]
        if outcome.path is None:
            lines.append(f"_Not drawn: {outcome.reason}._")
        else:
            lines.append(f"![{spec.title}]({FIGURES_DIR}/{spec.filename})")
        lines.append("")
    return "\n".join(lines)
