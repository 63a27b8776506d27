"""`bench compare BASE [BASE ...] NEW`: match runs' rows, apply regression checks, render the verdict.

With several BASE runs (oldest first) the baseline of a row is all of them: timing checks pool
their latency samples into one baseline distribution (like conbench's lookback), the other
checks use the newest BASE that has the row. Rows are matched on
:data:`bench.results.schema.KEY_FIELDS`; rows on one side only are
listed, never dropped. A cell that was ``ok`` in BASE and ``failed`` in NEW is a regression
(the model stopped working); other failed or skipped rows are reported without being
checked. Runs from different environments (:data:`ENV_FIELDS`) are refused with the
differences named, unless the caller allows the mismatch; the differences are then shown.
The checks themselves (``METRIC:THRESHOLD``, noise-aware timing) live in
:mod:`reports.thresholds`. This module returns data and text; it prints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import EXIT_FAILED, EXIT_OK, BenchError
from bench.results.formatting import format_value
from bench.results.results_file import ResultSet
from bench.results.schema import DEFAULT_RUNTIME, KEY_DEFAULTS, KEY_FIELDS, Status, key_dict, row_key
from reports.robust import LEVEL, RESAMPLES
from reports.thresholds import Check, CheckOutcome, Verdict, timing_warnings

# The environment that must agree for timings (and int8 numerics) to be comparable.
ENV_FIELDS: tuple[str, ...] = ("gpu_name", "cpu_model", "cpu_threads", "torch", "quantized_engine")


@dataclass(frozen=True)
class EnvDifference:
    field: str
    base: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field} {self.base!r} vs {self.new!r}"


class EnvironmentMismatch(BenchError):
    """BASE and NEW ran in different environments: refused, naming the differences."""

    def __init__(self, differences: Sequence[EnvDifference]) -> None:
        self.differences = list(differences)
        super().__init__(
            "BASE and NEW ran in different environments (" + ", ".join(map(str, self.differences)) + ")",
            "compare runs from the same machine and software, or pass --allow-env-mismatch to compare anyway",
        )


def environment_differences(base_run: dict[str, Any], new_run: dict[str, Any]) -> list[EnvDifference]:
    """The :data:`ENV_FIELDS` whose values differ (a field missing on one side differs)."""
    return [
        EnvDifference(name, base_run.get(name), new_run.get(name))
        for name in ENV_FIELDS
        if base_run.get(name) != new_run.get(name)
    ]


def hardware_differences(
    base_rows: dict[tuple[Any, ...], dict[str, Any]], new_rows: dict[tuple[Any, ...], dict[str, Any]]
) -> list[EnvDifference]:
    """Matched rows measured on different processors or GPUs (``device_name``): under
    ``--executor ray`` the rows of one run can come from several hosts, so the run-level
    environment alone cannot tell."""
    found: dict[tuple[Any, Any], EnvDifference] = {}
    for key, base_row in base_rows.items():
        new_row = new_rows.get(key)
        if new_row is None or base_row.get("device_name") == new_row.get("device_name"):
            continue
        pair = (base_row.get("device_name"), new_row.get("device_name"))
        found.setdefault(pair, EnvDifference(f"device_name of {row_label(base_row)}", *pair))
    return list(found.values())


def row_label(key: dict[str, Any]) -> str:
    """'lenet5/baseline digits 1x32x32 cpu fp32 bs=1': a row named for humans.

    The runtime, channels_last and compiled parts are named only where they differ from the
    defaults, so eager rows read as they always have.
    """
    execution = [key["runtime"]] if key.get("runtime") not in (None, DEFAULT_RUNTIME) else []
    execution += [name for name in ("channels_last", "compiled") if key.get(name)]
    return (
        f"{key['model']}/{key['variant']} {key['dataset']} {key['input_size']} "
        f"{key['device']} {key['precision']}{''.join(' ' + part for part in execution)} bs={key['batch_size']}"
    )


@dataclass(frozen=True)
class Regression:
    """One reason the comparison fails, with the row it belongs to."""

    row: dict[str, Any]
    check: str  # a check's spec, or "status"
    detail: str

    def __str__(self) -> str:
        return f"{row_label(self.row)}: {self.detail}"


@dataclass
class RowComparison:
    """A matched pair of rows and what every check said about it."""

    key: dict[str, Any]
    base_status: str
    new_status: str
    base_error: str | None = None
    new_error: str | None = None
    outcomes: list[CheckOutcome] = field(default_factory=list)
    timing_warnings: str = ""  # why BASE's or NEW's timing is unstable (empty when both are stable)

    @property
    def unstable(self) -> bool:
        return bool(self.timing_warnings)

    @property
    def both_ok(self) -> bool:
        return self.base_status == Status.OK and self.new_status == Status.OK

    @property
    def broke(self) -> bool:
        """Measured in BASE, failed in NEW."""
        return self.base_status == Status.OK and self.new_status == Status.FAILED

    def regressions(self) -> list[Regression]:
        found = [Regression(self.key, o.check, o.explain()) for o in self.outcomes if o.regressed]
        if self.broke:
            error = self.new_error or "no error message"
            found.insert(0, Regression(self.key, "status", f"ok in BASE, failed in NEW: {error}"))
        return found


@dataclass
class Comparison:
    """Everything `bench compare` found; rendered by :meth:`to_markdown` or :meth:`to_dict`."""

    base_path: Path  # the newest BASE
    new_path: Path
    base_run: dict[str, Any]
    new_run: dict[str, Any]
    checks: list[Check]
    rows: list[RowComparison]
    only_in_base: list[dict[str, Any]]
    only_in_new: list[dict[str, Any]]
    env_differences: list[EnvDifference]
    base_paths: list[Path] = field(default_factory=list)  # every BASE, oldest first

    @property
    def regressions(self) -> list[Regression]:
        return [regression for row in self.rows for regression in row.regressions()]

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.regressions else EXIT_OK

    def summary(self) -> str:
        """One line: the verdict and what was compared."""
        count = len(self.regressions)
        verdict = f"{count} regression{'s' if count != 1 else ''}" if count else "no regressions"
        extras = [f"{len(self.rows)} rows compared"]
        if self.only_in_base or self.only_in_new:
            extras.append(f"{len(self.only_in_base)} only in BASE, {len(self.only_in_new)} only in NEW")
        unchecked = sum(not row.both_ok for row in self.rows)
        if unchecked:
            extras.append(f"{unchecked} not ok on a side")
        return f"{verdict} ({'; '.join(extras)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "base": _run_info(self.base_path, self.base_run),
            "baselines": [str(path) for path in self.base_paths or [self.base_path]],
            "new": _run_info(self.new_path, self.new_run),
            "checks": [check.spec for check in self.checks],
            "timing_interval": {
                "method": "bootstrap of the ratio of statistics",
                "level": LEVEL,
                "resamples": RESAMPLES,
            },
            "regressions": [
                {"row": r.row, "check": r.check, "detail": r.detail, "label": row_label(r.row)}
                for r in self.regressions
            ],
            "rows": [
                {
                    "key": row.key,
                    "base_status": row.base_status,
                    "new_status": row.new_status,
                    "base_error": row.base_error,
                    "new_error": row.new_error,
                    "timing_warnings": row.timing_warnings or None,
                    "outcomes": [o.to_dict() for o in row.outcomes],
                }
                for row in self.rows
            ],
            "only_in_base": self.only_in_base,
            "only_in_new": self.only_in_new,
            "environment_differences": [{"field": d.field, "base": d.base, "new": d.new} for d in self.env_differences],
        }

    def to_markdown(self) -> str:
        """A markdown report ready for a CI job summary (``>> $GITHUB_STEP_SUMMARY``)."""
        lines = [
            f"## cnnbench compare: {self.summary()}",
            "",
            f"**BASE** {_describe_run(self.base_path, self.base_run)}{self._pooled_note()}  ",
            f"**NEW** {_describe_run(self.new_path, self.new_run)}  ",
            "**Checks** "
            + ", ".join(f"`{check.spec}`" for check in self.checks)
            + f" (timing fails only when the {LEVEL:.0%} bootstrap interval of the change excludes no change)",
            "",
        ]
        if self.env_differences:
            lines += ["> **Environments differ** (allowed): " + "; ".join(map(str, self.env_differences)), ""]
        if self.rows:
            lines += _markdown_table(self.rows, self.checks)
        for title, items in (
            ("Regressions", [str(r) for r in self.regressions]),
            ("Not ok", [_status_line(row) for row in self.rows if not row.both_ok and not row.broke]),
            ("Unstable timings", [f"{row_label(row.key)}: {row.timing_warnings}" for row in self.rows if row.unstable]),
            ("Only in BASE (not in NEW)", [row_label(key) for key in self.only_in_base]),
            ("Only in NEW (not in BASE)", [row_label(key) for key in self.only_in_new]),
        ):
            if items:
                lines += ["", f"### {title}", ""] + [f"- {_cell(item)}" for item in items]
        return "\n".join(lines) + "\n"

    def _pooled_note(self) -> str:
        if len(self.base_paths) <= 1:
            return ""
        others = ", ".join(f"`{path}`" for path in self.base_paths[:-1])
        return f"; timing pooled with {len(self.base_paths) - 1} earlier baseline(s): {others}"


def _run_info(path: Path, run: dict[str, Any]) -> dict[str, Any]:
    return {"path": str(path), "created": run.get("created"), "git_commit": run.get("git_commit")}


def _describe_run(path: Path, run: dict[str, Any]) -> str:
    details = [str(run[key])[:width] for key, width in (("created", 19), ("git_commit", 12)) if run.get(key)]
    return f"`{path}`" + (f" ({', '.join(details)})" if details else "")


def _status_line(row: RowComparison) -> str:
    def side(status: str, error: str | None) -> str:
        return status + (f" ({error})" if error and status != Status.OK else "")

    base, new = side(row.base_status, row.base_error), side(row.new_status, row.new_error)
    return f"{row_label(row.key)}: BASE {base}, NEW {new}"


_SHORT_HEADERS = {"input_size": "input", "batch_size": "batch"}  # the other key fields keep their names


def _shown_key_fields(rows: list[RowComparison]) -> list[str]:
    """Every key field, less the execution fields that hold their default in every row."""
    return [
        name
        for name in KEY_FIELDS
        if name not in KEY_DEFAULTS or any(row.key[name] != KEY_DEFAULTS[name] for row in rows)
    ]


def _markdown_table(rows: list[RowComparison], checks: list[Check]) -> list[str]:
    shown = _shown_key_fields(rows)
    headers = [_SHORT_HEADERS.get(name, name) for name in shown]
    headers += [f"`{check.spec}`" for check in checks] + ["status"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        outcomes = {o.check: o for o in row.outcomes}
        cells = [str(row.key[name]) for name in shown]
        cells += [_outcome_cell(outcomes.get(check.spec)) for check in checks]
        if row.broke:
            cells.append("**FAILED**")
        elif row.both_ok:
            cells.append("unstable" if row.unstable else row.new_status)
        else:
            cells.append(f"{row.base_status} -> {row.new_status}")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _outcome_cell(outcome: CheckOutcome | None) -> str:
    if outcome is None:
        return "-"
    if outcome.verdict is Verdict.MISSING:
        return "n/a"
    change = "" if outcome.relative is None else f" ({outcome.change_text()})"
    verdict = "**REGRESSION**" if outcome.regressed else outcome.verdict.value
    return f"{format_value(outcome.base)} -> {format_value(outcome.new)}{change} {verdict}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def compare_results(
    base: ResultSet | Sequence[ResultSet],
    new: ResultSet,
    checks: Sequence[Check],
    *,
    allow_env_mismatch: bool = False,
) -> Comparison:
    """Compare NEW against BASE (one run, or several oldest first); an environment mismatch
    raises :class:`EnvironmentMismatch`.

    Raises BenchError when the runs share no row at all (almost surely the wrong pair
    of files), so that such a comparison cannot pass by checking nothing.
    """
    bases = [base] if isinstance(base, ResultSet) else list(base)
    if not bases:
        raise BenchError("no BASE run to compare with", "pass at least one BASE before NEW")
    latest = bases[-1]
    pools: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for result in bases:
        for row in result.rows:
            pools.setdefault(row_key(row), []).append(row)
    base_rows = {key: rows[-1] for key, rows in pools.items()}
    new_rows = {row_key(row): row for row in new.rows}
    differences: list[EnvDifference] = []
    for result in bases:
        for difference in environment_differences(result.run, new.run):
            if difference not in differences:
                differences.append(difference)
    differences += hardware_differences(base_rows, new_rows)
    if differences and not allow_env_mismatch:
        raise EnvironmentMismatch(differences)
    if not base_rows.keys() & new_rows.keys():
        where = latest.path if len(bases) == 1 else f"{len(bases)} BASE runs"
        raise BenchError(
            f"no row of {new.path} ({len(new_rows)} rows) matches a row of {where} "
            f"({len(base_rows)} rows) on {', '.join(KEY_FIELDS)}",
            "compare two runs of the same models, data set, device, precision and batch sizes",
        )
    matched = [_compare_rows(pools[key], new_rows[key], checks) for key in base_rows if key in new_rows]
    return Comparison(
        base_path=latest.path,
        new_path=new.path,
        base_run=latest.run,
        new_run=new.run,
        checks=list(checks),
        rows=matched,
        only_in_base=[key_dict(row) for key, row in base_rows.items() if key not in new_rows],
        only_in_new=[key_dict(row) for key, row in new_rows.items() if key not in base_rows],
        env_differences=differences,
        base_paths=[result.path for result in bases],
    )


def _compare_rows(base_pool: list[dict[str, Any]], new_row: dict[str, Any], checks: Sequence[Check]) -> RowComparison:
    base_row = base_pool[-1]
    row = RowComparison(
        key=key_dict(base_row),
        base_status=base_row.get("status") or Status.OK,
        new_status=new_row.get("status") or Status.OK,
        base_error=base_row.get("error"),
        new_error=new_row.get("error"),
    )
    if row.both_ok:
        measured = [candidate for candidate in base_pool if (candidate.get("status") or Status.OK) == Status.OK]
        row.outcomes = [check.evaluate(measured, new_row) for check in checks]
        row.timing_warnings = timing_warnings(measured, new_row)
    return row
