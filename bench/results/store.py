"""The run store: ``results.db``, the SQLite store of record of a run directory.

A run is a list of cells (the runner's unit of work, e.g. ``"resnet20|pruned-50"``). Each
finished cell is committed in ONE transaction: its rows, its artifacts (training history,
evaluation) and the mark that it is done. With ``synchronous=FULL`` a SIGKILL at any moment
loses at most the cell in progress and never leaves the database corrupt; ``--resume``
skips :meth:`ResultStore.done_cells`. ``results.json`` and ``results.csv`` are exports,
rewritten atomically from the database by :meth:`ResultStore.export`.

Tables: ``run`` (one line: schema version and the environment as JSON), ``rows`` (one typed
column per :data:`bench.results.schema.FIELDS`, unique over the row key), ``artifacts``
(kind, model, variant -> JSON), ``samples`` (row key -> the row's per-iteration latencies
as a JSON list: ``latency_samples_ms``, kept out of the typed columns and the CSV) and
``cells`` (finished cell ids).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.results.results_file import RESULTS_JSON, write_results_json
from bench.results.samples import json_samples
from bench.results.schema import (
    COLUMN_NAMES,
    FIELD_NAMES,
    FIELD_TYPES,
    QUANTILES_FIELD,
    SAMPLES_FIELD,
    SCHEMA_VERSION,
    row_key,
)

RESULTS_DB = "results.db"
RESULTS_CSV = "results.csv"

# Artifact kinds the runner stores and the report reads.
HISTORY = "history"  # list of {"epoch","train_loss","train_top1","val_loss","val_top1","lr","seconds"}
EVALUATION = "evaluation"  # {"top1","top5","loss","n","class_names","confusion","per_class"}

# Store-only columns of the rows table (never exported).
_CELL_COLUMN = "cell_id"
# SQLite UNIQUE treats NULLs as distinct, and a failed row may have a NULL batch size: the
# key is therefore kept as one JSON text column, which compares NULLs as equal.
_KEY_COLUMN = "row_key"
assert not {_CELL_COLUMN, _KEY_COLUMN} & set(FIELD_NAMES), "store columns collide with schema fields"

_SQL_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT"}


class Artifact(NamedTuple):
    """A JSON document attached to a model variant, e.g. its training history."""

    kind: str
    model: str
    variant: str
    data: Any


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_sql() -> list[str]:
    columns = ",\n  ".join(f"{_quote(f)} {_SQL_TYPES[FIELD_TYPES[f]]}" for f in COLUMN_NAMES)
    return [
        "CREATE TABLE IF NOT EXISTS run (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " schema_version INTEGER NOT NULL, info TEXT NOT NULL DEFAULT '{}')",
        f"CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        f"  {_KEY_COLUMN} TEXT NOT NULL UNIQUE, {_CELL_COLUMN} TEXT,\n  {columns})",
        "CREATE TABLE IF NOT EXISTS artifacts (kind TEXT NOT NULL, model TEXT NOT NULL,"
        " variant TEXT NOT NULL, data TEXT NOT NULL, cell_id TEXT, PRIMARY KEY (kind, model, variant))",
        "CREATE TABLE IF NOT EXISTS cells (cell_id TEXT PRIMARY KEY, finished TEXT NOT NULL, n_rows INTEGER NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS samples ({_KEY_COLUMN} TEXT PRIMARY KEY, {_CELL_COLUMN} TEXT,"
        " latency_ms TEXT NOT NULL)",
    ]


def _upsert_row_sql() -> str:
    """Insert a row, or update the row with the same key in place (keeping its position)."""
    columns = [_KEY_COLUMN, _CELL_COLUMN, *COLUMN_NAMES]
    names = ", ".join(_quote(c) for c in columns)
    updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns[1:])
    placeholders = ", ".join("?" * len(columns))
    return f"INSERT INTO rows ({names}) VALUES ({placeholders}) ON CONFLICT ({_KEY_COLUMN}) DO UPDATE SET {updates}"


_UPSERT_ROW = _upsert_row_sql()


def _coerce(field: str, value: Any) -> Any:
    """A value as its schema type: what the typed column, the JSON and the CSV hold."""
    if value is None:
        return None
    kind = FIELD_TYPES[field]
    if kind is str:
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value, sort_keys=True)
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"field {field!r} expects a number, got {value!r}") from None
    if not math.isfinite(number):
        return None  # NaN/inf mean "not measured"; SQLite and strict JSON cannot hold them
    if kind is int:
        if not number.is_integer():
            raise ValueError(f"field {field!r} expects an integer, got {value!r}")
        return int(number)
    return number


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every schema field, typed; unknown fields raise (a misspelt field must not vanish).

    The samples are a list of floats (or None); the quantiles are derived from them.
    """
    unknown = set(row) - set(FIELD_NAMES)
    if unknown:
        raise KeyError(f"not result fields: {sorted(unknown)}")
    typed = {name: _coerce(name, row.get(name)) for name in COLUMN_NAMES}
    samples = row.get(SAMPLES_FIELD.name)
    typed[SAMPLES_FIELD.name] = [float(value) for value in samples] if samples else None
    typed[QUANTILES_FIELD.name] = json_samples(row)
    return {name: typed[name] for name in FIELD_NAMES}


class ResultStore:
    """The SQLite store of one run directory; use as a context manager.

    ``create=False`` opens an existing store only (``bench report``): a missing directory or
    ``results.db`` is a :class:`BenchError`, as is a database of another schema version.
    """

    def __init__(self, run_dir: str | Path, *, create: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RESULTS_DB
        if create:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        elif not self.run_dir.is_dir():
            raise BenchError(
                f"run directory {self.run_dir} does not exist", "pass the --out directory of a `bench run`"
            )
        elif not self.path.is_file():
            raise BenchError(
                f"{self.run_dir} has no {RESULTS_DB}", "pass the --out directory of a `bench run` (it writes one)"
            )
        mode = "rwc" if create else "rw"
        try:
            # Autocommit mode: every transaction is explicit (BEGIN IMMEDIATE ... COMMIT).
            self._db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise BenchError(f"cannot open {self.path} ({exc})", "check the path and its permissions") from None
        try:
            self._db.execute("PRAGMA synchronous = FULL")
            self._prepare(create)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise BenchError(
                f"{self.path} is not a readable cnnbench results database ({exc})",
                "pass a run directory written by `bench run`, or start a new run with another --out",
            ) from None
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, create: bool) -> None:
        """Check the schema version; create the tables (or add new schema fields) when writable."""
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "run" in tables:
            (version,) = self._db.execute("SELECT schema_version FROM run WHERE id = 1").fetchone() or (None,)
            if version != SCHEMA_VERSION:
                raise BenchError(
                    f"{self.path} holds schema version {version}, this cnnbench writes version {SCHEMA_VERSION}",
                    "start a new run with another --out (or use the cnnbench that wrote it)",
                )
        elif not create:
            raise BenchError(
                f"{self.path} is not a cnnbench results database", "pass a run directory written by `bench run`"
            )
        if tables >= {"run", "rows", "artifacts", "cells", "samples"} and not self._missing_columns():
            return  # an existing store: reading it writes nothing
        with self._transaction():
            for statement in _schema_sql():
                self._db.execute(statement)
            self._db.execute("INSERT OR IGNORE INTO run (id, schema_version) VALUES (1, ?)", (SCHEMA_VERSION,))
            # Fields added to the schema since this database was written (extend, never rename).
            for name in self._missing_columns():
                self._db.execute(f"ALTER TABLE rows ADD COLUMN {_quote(name)} {_SQL_TYPES[FIELD_TYPES[name]]}")

    def _missing_columns(self) -> list[str]:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(rows)")}
        return [name for name in COLUMN_NAMES if name not in present]

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: all of it reaches the disk, or none of it."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction, so that several reads see the same committed state."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    # -- the run's environment -------------------------------------------------------------

    def set_run_info(self, info: dict[str, Any]) -> None:
        """Record the run's environment (one JSON document; a later call replaces it)."""
        text = json.dumps(info, default=str)
        with self._transaction():
            self._db.execute("UPDATE run SET info = ? WHERE id = 1", (text,))

    def run_info(self) -> dict[str, Any]:
        (text,) = self._db.execute("SELECT info FROM run WHERE id = 1").fetchone()
        return json.loads(text)

    # -- cells -----------------------------------------------------------------------------

    def commit_cell(self, cell_id: str, rows: Iterable[dict[str, Any]], artifacts: Iterable[Artifact] = ()) -> None:
        """Write a cell's rows and artifacts and mark it done, in one transaction.

        A row whose key exists is replaced in place (never duplicated). Committing a cell
        again replaces what it wrote before, dropping its rows and artifacts not written anew.
        Rows are validated before anything is written.
        """
        prepared = [normalize_row(row) for row in rows]
        encoded = [(a.kind, a.model, a.variant, json.dumps(a.data)) for a in map(Artifact._make, artifacts)]
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction():
            self._replace_rows(cell_id, prepared)
            self._replace_artifacts(cell_id, encoded)
            self._db.execute(
                "INSERT OR REPLACE INTO cells (cell_id, finished, n_rows) VALUES (?, ?, ?)",
                (cell_id, finished, len(prepared)),
            )

    def _replace_rows(self, cell_id: str, rows: list[dict[str, Any]]) -> None:
        keys = [json.dumps(row_key(row)) for row in rows]
        previous = self._db.execute(f"SELECT seq, {_KEY_COLUMN} FROM rows WHERE {_CELL_COLUMN} = ?", (cell_id,))
        written = set(keys)
        stale = [(seq,) for seq, key in previous.fetchall() if key not in written]
        self._db.executemany("DELETE FROM rows WHERE seq = ?", stale)
        values = [(key, cell_id, *(row[f] for f in COLUMN_NAMES)) for key, row in zip(keys, rows)]
        self._db.executemany(_UPSERT_ROW, values)
        self._db.execute(f"DELETE FROM samples WHERE {_CELL_COLUMN} = ?", (cell_id,))
        self._db.executemany(
            f"INSERT OR REPLACE INTO samples ({_KEY_COLUMN}, {_CELL_COLUMN}, latency_ms) VALUES (?, ?, ?)",
            [
                (key, cell_id, json.dumps(row[SAMPLES_FIELD.name]))
                for key, row in zip(keys, rows)
                if row.get(SAMPLES_FIELD.name)
            ],
        )

    def _replace_artifacts(self, cell_id: str, encoded: list[tuple[str, str, str, str]]) -> None:
        kept = {item[:3] for item in encoded}
        previous = self._db.execute("SELECT kind, model, variant FROM artifacts WHERE cell_id = ?", (cell_id,))
        stale = [ident for ident in previous.fetchall() if ident not in kept]
        self._db.executemany("DELETE FROM artifacts WHERE kind = ? AND model = ? AND variant = ?", stale)
        self._db.executemany(
            "INSERT OR REPLACE INTO artifacts (kind, model, variant, data, cell_id) VALUES (?, ?, ?, ?, ?)",
            [(*item, cell_id) for item in encoded],
        )

    def done_cells(self) -> set[str]:
        return {cell for (cell,) in self._db.execute("SELECT cell_id FROM cells")}

    # -- reading ---------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Every row with every schema field, in the order rows were first written; timed rows
        also carry their ``latency_samples_ms``."""
        return self._select_rows("", ())

    def rows_of_cell(self, cell_id: str) -> list[dict[str, Any]]:
        """The rows a cell wrote (what ``--resume`` keeps of a finished cell)."""
        return self._select_rows(f"WHERE rows.{_CELL_COLUMN} = ?", (cell_id,))

    def _select_rows(self, where: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        names = ", ".join(f"rows.{_quote(f)}" for f in COLUMN_NAMES)
        cursor = self._db.execute(
            f"SELECT {names}, samples.latency_ms FROM rows LEFT JOIN samples USING ({_KEY_COLUMN}) "
            f"{where} ORDER BY rows.seq",
            parameters,
        )
        found = []
        for *values, samples in cursor:
            row = dict(zip(COLUMN_NAMES, values))
            row[SAMPLES_FIELD.name] = json.loads(samples) if samples is not None else None
            row[QUANTILES_FIELD.name] = json_samples(row)
            found.append({name: row[name] for name in FIELD_NAMES})
        return found

    def artifacts(self, kind: str) -> dict[tuple[str, str], Any]:
        """``{(model, variant): data}`` of one kind, in the order they were first written."""
        cursor = self._db.execute("SELECT model, variant, data FROM artifacts WHERE kind = ? ORDER BY rowid", (kind,))
        return {(model, variant): json.loads(data) for model, variant, data in cursor}

    # -- exports ---------------------------------------------------------------------------

    def export(self) -> tuple[Path, Path]:
        """Rewrite ``results.json`` and ``results.csv`` from the database, each atomically."""
        with self._snapshot():
            info, rows = self.run_info(), self.rows()
        json_path = self.run_dir / RESULTS_JSON
        csv_path = self.run_dir / RESULTS_CSV
        write_results_json(json_path, info, rows)
        atomic_write_text(csv_path, rows_to_csv(rows))
        return json_path, csv_path


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """CSV text: a header of the schema field names, empty cells where a field is null.

    The samples stay in results.db (their cell is empty); the quantiles are one cell of
    space-separated numbers.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELD_NAMES)
    for row in rows:
        cells = {name: row.get(name) for name in COLUMN_NAMES}
        quantiles = json_samples(row)
        cells[QUANTILES_FIELD.name] = " ".join(f"{v:g}" for v in quantiles) if quantiles else None
        writer.writerow(["" if cells.get(name) is None else cells[name] for name in FIELD_NAMES])
    return buffer.getvalue()


__all__ = [
    "EVALUATION",
    "HISTORY",
    "RESULTS_CSV",
    "RESULTS_DB",
    "Artifact",
    "ResultStore",
    "normalize_row",
    "rows_to_csv",
]
