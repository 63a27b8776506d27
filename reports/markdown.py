"""``report.md`` and ``figures/*.png`` of a run directory, rebuilt from ``results.db`` alone.

The answer comes first: a summary of the fastest variant of each model within the accuracy
budget (``--max-drop``, stored with the run), the rows an int8 or compiled form made slower,
and the failures in one line; then the tables, the comparison with a baseline run when one is
given, the figures, and the environment and full configuration in an appendix.

Nothing is recomputed: the tables and figures come from the stored rows and artifacts, so
the same database always gives the same report. Rebuilding is crash-safe: every figure and
then ``report.md`` are replaced atomically, and figures the new report no longer shows are
removed only after it is in place, so a report on disk never points at a missing figure.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.atomic import atomic_write_text
from bench.results.results_file import ResultSet
from bench.results.schema import SCHEMA_VERSION
from bench.results.store import EVALUATION, HISTORY, ResultStore
from bench.viz.evaluation_figures import plot_confusion_matrix
from bench.viz.figures import PlotResult
from compress.sensitivity import DEFAULT_MAX_DROP
from compress.variants import BASELINE
from reports import plots
from reports.change_figure import plot_change
from reports.compare import Comparison, compare_results
from reports.figure_style import row_label
from reports.summary import (
    Pick,
    Slowdown,
    failures_line,
    fastest_within_budget,
    group_batches,
    models_without_pick,
    slower_than_eager_float,
)
from reports.tables import (
    Row,
    compression_table,
    failures_table,
    format_cell,
    model_table,
    ok_rows,
    runtime_of,
    to_markdown,
    unstable_table,
)
from reports.thresholds import parse_checks
from reports.training_figure import plot_training_curves

REPORT_MD = "report.md"
FIGURES_DIR = "figures"
SLOWER_HEADING = "Slower than eager fp32"
APPENDIX_HEADING = "Appendix: environment and configuration"

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
    """What the report is built from: the store's contents, read once, and the comparison with a
    baseline run when one was given."""

    info: dict[str, Any]
    rows: list[Row]
    histories: dict[tuple[str, str], Any]
    evaluations: dict[tuple[str, str], Any]
    comparison: Comparison | None = None


@dataclass(frozen=True)
class FigureSpec:
    """A report figure: its file, its title, and the plot function fed one field of RunData."""

    filename: str
    title: str
    draw: Callable[[Any, Path], PlotResult]
    source: str  # "rows", "histories", "evaluations", "comparison", or "run" for the whole RunData

    def build(self, data: RunData, figures_dir: Path) -> PlotResult:
        value = data if self.source == "run" else getattr(data, self.source)
        return self.draw(value, figures_dir / self.filename)


def _training_curves(data: RunData, path: Path) -> PlotResult:
    datasets = ", ".join(dict.fromkeys(row["dataset"] for row in data.rows if row.get("dataset")))
    return plot_training_curves(data.histories, path, dataset=datasets or None)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("accuracy_vs_latency.png", "Accuracy vs latency", plots.plot_accuracy_vs_latency, "rows"),
    FigureSpec("params_vs_macs.png", "Parameters vs MACs", plots.plot_params_vs_macs, "rows"),
    FigureSpec("speedup.png", "Speedup per variant", plots.plot_speedup, "rows"),
    FigureSpec("training_curves.png", "Training curves", _training_curves, "run"),
    FigureSpec("confusion_matrix.png", "Best model's confusion matrix", plot_confusion_matrix, "evaluations"),
)
# Drawn only with --baseline, shown in the comparison section rather than among the figures.
CHANGE_FIGURE = FigureSpec("change_vs_baseline.png", "Change from the baseline run", plot_change, "comparison")


def read_run(run_dir: str | Path) -> RunData:
    """The store's contents; a missing run directory or database is a BenchError."""
    with ResultStore(run_dir, create=False) as store:
        return RunData(
            info=store.run_info(),
            rows=store.rows(),
            histories=store.artifacts(HISTORY),
            evaluations=store.artifacts(EVALUATION),
        )


def compare_with_baseline(data: RunData, run_dir: Path, baseline: ResultSet) -> Comparison:
    """This run (NEW) against ``baseline`` (BASE) with the default checks of `bench compare`.

    Runs from other environments are compared anyway and the differences shown: a report
    informs, `bench compare` is the gate. Runs sharing no row are a BenchError.
    """
    new = ResultSet(run=data.info, rows=data.rows, path=run_dir)
    return compare_results(baseline, new, parse_checks(None), allow_env_mismatch=True)


def write_report(run_dir: str | Path, *, baseline: ResultSet | None = None) -> Path:
    """Rebuild ``report.md`` and its figures from the run directory's ``results.db``.

    With ``baseline`` (a run read by :func:`bench.results.results_file.read_results`) the
    report adds the comparison table and the per-row change figure; the comparison is made
    before anything is written, so a baseline sharing no row leaves the directory untouched.
    """
    run_dir = Path(run_dir)
    data = read_run(run_dir)
    if baseline is not None:
        data = replace(data, comparison=compare_with_baseline(data, run_dir, baseline))
    figures_dir = run_dir / FIGURES_DIR
    outcomes = [(spec, spec.build(data, figures_dir)) for spec in FIGURES]
    change = CHANGE_FIGURE.build(data, figures_dir) if data.comparison is not None else PlotResult(None, "no baseline")
    report = run_dir / REPORT_MD
    atomic_write_text(report, render_report(data, outcomes, change))
    for spec, outcome in [*outcomes, (CHANGE_FIGURE, change)]:
        if outcome.path is None:
            (figures_dir / spec.filename).unlink(missing_ok=True)  # stale figure of an earlier build
    return report


def render_report(
    data: RunData, figures: Iterable[tuple[FigureSpec, PlotResult]], change: PlotResult | None = None
) -> str:
    """The markdown text: header, summary, tables, comparison, failures, figures, appendix."""
    parts = [
        _header(data),
        _summary(data),
        _results(data.rows),
        _comparison(data.comparison, change),
        _failures(data.rows),
        _figures(figures),
        _appendix(data.info),
    ]
    return "\n".join(part for part in parts if part)


def _format_argv(argv: Any) -> str:
    if isinstance(argv, (list, tuple)) and argv:
        return shlex.join([Path(str(argv[0])).name, *map(str, argv[1:])])
    return str(argv)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to dashes, punctuation dropped."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return "#" + kept.replace(" ", "-")


def _header(data: RunData) -> str:
    info = data.info
    facts = []
    if "argv" in info:
        facts.append(f"`{_format_argv(info['argv'])}`")
    if info.get("created"):
        facts.append(f"run {info['created']}")
    facts.append(f"environment and configuration in the [appendix]({_anchor(APPENDIX_HEADING)})")
    return "# cnnbench report\n\n" + "; ".join(facts) + ".\n"


# -- the summary ------------------------------------------------------------------------------


def max_drop_of(info: dict[str, Any]) -> tuple[float, bool]:
    """The run's accuracy budget (top-1 points) and whether the run stored it (else the default)."""
    config = info.get("config")
    value = config.get("max_drop") if isinstance(config, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value), True
    return DEFAULT_MAX_DROP, False


def _summary(data: RunData) -> str:
    max_drop, stored = max_drop_of(data.info)
    picks = fastest_within_budget(data.rows, max_drop)
    lines = ["## Summary", ""]
    if not picks:
        lines.append("No model has an ok baseline row measured in eager fp32, so no variant can be recommended.")
    elif all(pick.by_speed_only for pick in picks):
        lines.append(
            "No top-1 was measured (a speed-only run, e.g. synthetic data): the pick per model, device and "
            "batch size is the fastest variant by speed alone."
        )
    else:
        source = "as stored with the run" if stored else "the default; the run stored no budget"
        by_speed = [pick.row["model"] for pick in picks if pick.by_speed_only]
        lines.append(
            f"The fastest variant of each model whose top-1 is at most **{max_drop:g} points** below its "
            f"baseline's (`--max-drop {max_drop:g}`, {source})"
            + (f"; by speed alone for {', '.join(dict.fromkeys(by_speed))} (no top-1 measured)" if by_speed else "")
            + "."
        )
    if picks:
        lines[-1] += (
            " Speedup: the baseline's eager fp32 latency p50 over the pick's, on the same device and batch "
            "size; size reduction: the baseline's serialized size over the pick's."
        )
        lines += ["", to_markdown(_picks_table(picks)).rstrip("\n")]
    missing = models_without_pick(data.rows, picks)
    if missing:
        lines += ["", f"No pick for {', '.join(missing)}: no ok baseline row in eager fp32."]
    lines += ["", f"**{SLOWER_HEADING}**: {_slower_line(slower_than_eager_float(data.rows))}  "]
    lines += [f"**Failures**: {failures_line(data.rows)}"]
    return "\n".join(lines) + "\n"


def _picks_table(picks: Sequence[Pick]) -> pd.DataFrame:
    """One line per model and device, or per batch size where the choice depends on it."""
    records = []
    for group in group_batches(picks):
        first = group[0]
        variant, precision, runtime = first.choice
        delta = "speed only" if first.by_speed_only else format_cell(first.top1_delta)
        records.append(
            {
                "model": first.row["model"],
                "device": first.row["device"],
                "batch": " / ".join(str(pick.row["batch_size"]) for pick in group),
                "fastest within budget": variant,
                "precision": precision or "-",
                "runtime": runtime,
                "top-1 %": format_cell(first.top1),
                "Δ top-1 pp": delta,
                "speedup (x)": " / ".join(format_cell(pick.speedup) for pick in group),
                "size reduction (x)": format_cell(first.size_reduction),
            }
        )
    return pd.DataFrame.from_records(records)


def _slower_line(slowdowns: Sequence[Slowdown], *, shown: int = 4) -> str:
    if not slowdowns:
        return "none: every int8 or compiled row is at least as fast as its eager fp32 row."
    named = ", ".join(
        f"{row_label(item.row)} {item.row['device']} b{item.row['batch_size']} ({format_cell(item.speedup)}x)"
        for item in slowdowns[:shown]
    )
    more = f" and {len(slowdowns) - shown} more" if len(slowdowns) > shown else ""
    count = f"{len(slowdowns)} row{'s' if len(slowdowns) != 1 else ''}"
    return f"{count}: {named}{more} ([table]({_anchor(SLOWER_HEADING)}))."


# -- tables ---------------------------------------------------------------------------------


def _results(rows: list[Row]) -> str:
    statuses = [row.get("status") for row in rows]
    models = list(dict.fromkeys(row["model"] for row in rows))
    lines = [
        "## Results",
        "",
        f"{len(rows)} rows over {len(models)} models: {statuses.count('ok')} ok, "
        f"{statuses.count('failed')} failed, {statuses.count('skipped')} skipped.{_unstable_note(rows)}",
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
    lines.append(_slower_table(slower_than_eager_float(rows)))
    unstable = unstable_table(rows)
    if len(unstable):
        lines += [
            f"### {UNSTABLE_HEADING}",
            "",
            "The medians of these rows' timing blocks disagreed (the machine changed during the "
            "measurement): their latencies are shown but are not to be trusted as ok.\n",
            to_markdown(unstable),
        ]
    return "\n".join(lines)


UNSTABLE_HEADING = "Unstable timings"


def _unstable_note(rows: list[Row]) -> str:
    count = sum(bool(row.get("timing_warnings")) for row in ok_rows(rows))
    if not count:
        return ""
    return f" Of the ok rows, {count} timed unstable ([table]({_anchor(UNSTABLE_HEADING)}))."


def _slower_table(slowdowns: Sequence[Slowdown]) -> str:
    text = f"### {SLOWER_HEADING}\n\n"
    if not slowdowns:
        return text + "None: every int8 or compiled row is at least as fast as the eager fp32 row of its variant.\n"
    records = [
        {
            "model": item.row["model"],
            "variant": item.row["variant"],
            "precision": item.row.get("precision"),
            "runtime": runtime_of(item.row),
            "device": item.row["device"],
            "batch": item.row["batch_size"],
            "p50 ms": item.row["latency_ms_p50"],
            "eager fp32 row": item.reference["variant"],
            "its p50 ms": item.reference["latency_ms_p50"],
            "speedup (x)": item.speedup,
        }
        for item in slowdowns
    ]
    intro = "Each int8, compiled or other-runtime row slower than the eager fp32 row of the same variant before quantization, measured alike.\n\n"
    return text + intro + to_markdown(pd.DataFrame.from_records(records))


def _comparison(comparison: Comparison | None, change: PlotResult | None) -> str:
    if comparison is None:
        return ""
    text = comparison.to_markdown()
    if change is not None:
        title = CHANGE_FIGURE.title
        if change.path is None:
            text += f"\n_{title}: not drawn, {change.reason}._\n"
        else:
            text += f"\n![{title}]({FIGURES_DIR}/{CHANGE_FIGURE.filename})\n"
    return text


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


# -- appendix ---------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """Settings as text: a version number (cuDNN's 92600) is a label, not a quantity to format."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return "-" if value is None else str(value)


def _appendix(info: dict[str, Any]) -> str:
    lines = [f"## {APPENDIX_HEADING}", ""]
    lines.append(
        f"Results: `results.db` (schema version {SCHEMA_VERSION}), exported to `results.json` and `results.csv`."
    )
    lines += ["", "### Environment", ""]
    if not info:
        return "\n".join(lines) + "\nNo environment was recorded for this run.\n"
    known = dict(ENVIRONMENT_LABELS)
    shown = {key: _format_argv(value) if key == "argv" else _show(value) for key, value in info.items()}
    items = [(label, shown[key]) for key, label in ENVIRONMENT_LABELS if key in info]
    items += [(key, shown[key]) for key in sorted(info) if key not in known and key != "config"]
    text = "\n".join(lines) + "\n" + to_markdown(pd.DataFrame(items, columns=["", "value"]))
    config = info.get("config")
    if isinstance(config, dict) and config:
        settings = [(key, _show(value)) for key, value in config.items()]
        text += "\n### Configuration\n\n" + to_markdown(pd.DataFrame(settings, columns=["setting", "value"]))
    return text
