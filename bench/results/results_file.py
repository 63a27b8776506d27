"""Reading and writing ``results.json``: ``{"schema_version": 1, "run": {...}, "rows": [...]}``.

The SQLite store is the store of record; this file is its portable export and what
``bench compare`` reads. Writes are atomic (temporary file, then rename), so a reader never
sees half a file, whatever kills the writer. Rows carry their latency samples in the compact
form of :mod:`bench.results.samples` (``latency_quantiles_ms``); every file read is validated
(:mod:`bench.results.validate`) before a value is used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.results.samples import json_samples
from bench.results.schema import COLUMN_NAMES, FIELD_NAMES, QUANTILES_FIELD, SAMPLES_FIELD, SCHEMA_VERSION
from bench.results.validate import validate_payload

RESULTS_JSON = "results.json"


@dataclass
class ResultSet:
    """The run's environment and its rows, as stored."""

    run: dict[str, Any]
    rows: list[dict[str, Any]]
    path: Path


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every field; the samples null (results.db holds them), their compact quantiles given."""
    out = {k: _clean(row.get(k)) for k in COLUMN_NAMES}
    out[SAMPLES_FIELD.name] = None
    out[QUANTILES_FIELD.name] = json_samples(row)
    return {name: out[name] for name in FIELD_NAMES}


def write_results_json(path: Path, run: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    payload = {"schema_version": SCHEMA_VERSION, "run": run, "rows": [_json_row(row) for row in rows]}
    atomic_write_text(Path(path), json.dumps(payload, indent=1) + "\n")


def read_results(path: str | Path) -> ResultSet:
    """Load a run directory or a results.json; a bad file is a one-line BenchError."""
    path = Path(path)
    file = path / RESULTS_JSON if path.is_dir() else path
    if not file.exists():
        where = f"run directory {path}" if path.is_dir() else str(path)
        raise BenchError(
            f"no results found at {where}", "pass a run directory or a results.json written by `bench run`"
        )
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"{file} is not readable JSON ({exc})", "re-export it with `bench report RUN_DIR`") from None
    validate_payload(payload, file)
    full_rows = [{name: row.get(name) for name in FIELD_NAMES} for row in payload["rows"]]
    return ResultSet(run=dict(payload.get("run") or {}), rows=full_rows, path=file)


def read_baselines(paths: list[str | Path]) -> list[ResultSet]:
    """Every baseline run named by ``paths``, oldest first (by the run's ``created`` time).

    A path is a results.json, a run directory, or a folder of run directories (or of
    results.json files, e.g. ``baselines/*/results.json``): the last is how CI keeps its
    last N baselines. A folder holding none is a BenchError.
    """
    found: list[ResultSet] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / RESULTS_JSON).exists():
            files = sorted(path.glob(f"*/{RESULTS_JSON}")) + sorted(path.glob("*.json"))
            if not files:
                raise BenchError(
                    f"{path} holds no results.json (nor run directories with one)",
                    "pass run directories, results.json files or a folder of run directories",
                )
            found.extend(read_results(file) for file in files)
        else:
            found.append(read_results(path))
    return sorted(found, key=lambda result: str(result.run.get("created") or ""))
