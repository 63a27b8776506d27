"""The run store: typed rows unique by key, one transaction per cell, exports, crash safety."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.results.results_file import read_results
from bench.results.schema import FIELD_NAMES, make_row
from bench.results.store import EVALUATION, HISTORY, RESULTS_CSV, RESULTS_DB, Artifact, ResultStore


def _row(model: str = "lenet5", variant: str = "baseline", batch_size: int | None = 1, **values) -> dict:
    return make_row(
        model=model,
        variant=variant,
        dataset="digits",
        input_size="1x32x32",
        device="cpu",
        precision="fp32",
        batch_size=batch_size,
        **values,
    )


def test_rows_artifacts_and_cells_round_trip(tmp_path: Path) -> None:
    epoch = {"epoch": 1, "train_loss": 0.5, "train_top1": 80.0, "val_loss": 0.6, "val_top1": 78.0, "lr": 0.1}
    history = [{**epoch, "seconds": 1.5}]
    with ResultStore(tmp_path / "run") as store:
        store.set_run_info({"argv": ["bench", "run"], "cpu_threads": 2})
        store.commit_cell(
            "lenet5|baseline",
            [_row(batch_size=1, params=61706, latency_ms_p50=0.25), _row(batch_size=32, params=61706.0, top1=97.5)],
            [Artifact(HISTORY, "lenet5", "baseline", history), ("evaluation", "lenet5", "baseline", {"top1": 97.5})],
        )
        store.commit_cell("vgg11|baseline", [_row("vgg11", status="failed", error="boom")])
        rows = store.rows()
        assert [(r["model"], r["batch_size"]) for r in rows] == [("lenet5", 1), ("lenet5", 32), ("vgg11", 1)]
        assert list(rows[0]) == list(FIELD_NAMES)
        assert type(rows[1]["params"]) is int and rows[1]["params"] == 61706  # typed by the schema
        assert rows[2]["status"] == "failed" and rows[2]["error"] == "boom"
        assert store.done_cells() == {"lenet5|baseline", "vgg11|baseline"}
        assert store.artifacts(HISTORY) == {("lenet5", "baseline"): history}
        assert store.artifacts(EVALUATION) == {("lenet5", "baseline"): {"top1": 97.5}}
        assert [r["batch_size"] for r in store.rows_of_cell("lenet5|baseline")] == [1, 32]
    with ResultStore(tmp_path / "run", create=False) as store:  # persisted
        assert store.run_info() == {"argv": ["bench", "run"], "cpu_threads": 2}
        assert len(store.rows()) == 3


def test_same_key_replaces_in_place_never_duplicates(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.commit_cell("a", [_row("lenet5", latency_ms_p50=1.0), _row("alexnet", latency_ms_p50=5.0)])
        store.commit_cell("b", [_row("lenet5", latency_ms_p50=2.0)])  # same key from another cell
        rows = store.rows()
        assert [(r["model"], r["latency_ms_p50"]) for r in rows] == [("lenet5", 2.0), ("alexnet", 5.0)]


def test_null_key_fields_still_identify_one_row(tmp_path: Path) -> None:
    # SQLite UNIQUE treats NULLs as distinct; a failed cell's row has no batch size.
    with ResultStore(tmp_path) as store:
        store.commit_cell("a", [_row(batch_size=None, status="failed", error="first")])
        store.commit_cell("b", [_row(batch_size=None, status="failed", error="second")])
        assert [r["error"] for r in store.rows()] == ["second"]


def test_recommitted_cell_drops_what_it_no_longer_writes(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.commit_cell(
            "lenet5|pruned-50",
            [_row(variant="pruned-50", batch_size=None, status="failed", error="untraceable")],
            [Artifact(HISTORY, "lenet5", "pruned-50", [])],
        )
        store.commit_cell("other", [_row("alexnet")])
        store.commit_cell("lenet5|pruned-50", [_row(variant="pruned-50", batch_size=b) for b in (1, 32)])
        rows = store.rows()
        assert [(r["model"], r["variant"], r["batch_size"], r["status"]) for r in rows] == [
            ("alexnet", "baseline", 1, "ok"),
            ("lenet5", "pruned-50", 1, "ok"),
            ("lenet5", "pruned-50", 32, "ok"),
        ]
        assert store.artifacts(HISTORY) == {}


def test_bad_row_writes_nothing_of_the_cell(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        with pytest.raises(KeyError, match="latency_p50"):
            store.commit_cell("a", [_row(batch_size=1), {**_row(batch_size=2), "latency_p50": 1.0}])
        with pytest.raises(ValueError, match="batch_size"):
            store.commit_cell("a", [_row(batch_size=1), _row(batch_size=2.5)])
        assert store.rows() == [] and store.done_cells() == set()


def test_not_measured_floats_are_stored_as_null(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.commit_cell("a", [_row(latency_ms_p50=float("nan"), top1=float("inf"), unsupported_ops={"aten::add": 3})])
        (row,) = store.rows()
        assert row["latency_ms_p50"] is None and row["top1"] is None
        assert json.loads(row["unsupported_ops"]) == {"aten::add": 3}


def test_export_writes_json_and_csv_from_the_db(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.set_run_info({"created": "2025-01-02T03:04:05+00:00"})
        store.commit_cell("a", [_row(batch_size=1, latency_ms_p50=0.5, top1=97.25), _row(batch_size=32, error="x|y")])
        json_path, csv_path = store.export()
    results = read_results(tmp_path)
    assert json_path == tmp_path / "results.json" and csv_path == tmp_path / RESULTS_CSV
    assert results.run == {"created": "2025-01-02T03:04:05+00:00"}
    measured = [(r["batch_size"], r["latency_ms_p50"], r["top1"]) for r in results.rows]
    assert measured == [(1, 0.5, 97.25), (32, None, None)]
    with csv_path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(FIELD_NAMES)
    first = dict(zip(table[0], table[1]))
    assert (first["batch_size"], first["latency_ms_p50"], first["top1"], first["params"]) == ("1", "0.5", "97.25", "")
    assert dict(zip(table[0], table[2]))["error"] == "x|y"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_opening_for_reading_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        ResultStore(tmp_path / "missing", create=False)
    with pytest.raises(BenchError, match="has no results.db"):
        ResultStore(tmp_path, create=False)
    assert not (tmp_path / RESULTS_DB).exists()
    (tmp_path / RESULTS_DB).write_bytes(b"not a database, just some text" * 10)
    with pytest.raises(BenchError, match="not a readable cnnbench results database") as info:
        ResultStore(tmp_path)
    assert "\n" not in str(info.value)


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.commit_cell("a", [_row()])
    with sqlite3.connect(tmp_path / RESULTS_DB) as db:
        db.execute("UPDATE run SET schema_version = 99")
    db.close()
    for create in (True, False):
        with pytest.raises(BenchError, match="schema version 99"):
            ResultStore(tmp_path, create=create)


def test_fields_added_to_the_schema_are_added_to_an_older_db(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.commit_cell("a", [_row(created="2025")])
    with sqlite3.connect(tmp_path / RESULTS_DB) as db:  # as if written before "created" existed
        db.execute('ALTER TABLE rows DROP COLUMN "created"')
    db.close()
    with ResultStore(tmp_path, create=False) as store:
        (row,) = store.rows()
        assert row["created"] is None and row["model"] == "lenet5"


# Writes cells in a loop, printing each committed cell's number. With a second argument N it
# SIGKILLs itself in cell N as it marks the cell done, its rows and artifacts already written:
# a deterministic worst case beside the kills that land wherever the loop happens to be.
_WRITER = """
import os, signal, sys
from bench.results.schema import make_row
from bench.results.store import Artifact, ResultStore

class DieMarkingTheCell:
    def __init__(self, db):
        self.db = db
    def execute(self, sql, *args):
        if "INTO cells" in sql:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.db.execute(sql, *args)
    def __getattr__(self, name):
        return getattr(self.db, name)

die_in = int(sys.argv[2]) if len(sys.argv) > 2 else -1
with ResultStore(sys.argv[1]) as store:
    store.set_run_info({"argv": ["bench", "run"]})
    for i in range(100_000):
        if i == die_in:
            store._db = DieMarkingTheCell(store._db)
        model = f"model{i}"
        rows = [
            make_row(model=model, variant="baseline", dataset="digits", input_size="1x8x8", device="cpu",
                     precision="fp32", batch_size=b, latency_ms_p50=float(b), error="x" * 2000)
            for b in range(1, 9)
        ]
        store.commit_cell(f"{model}|baseline", rows, [Artifact("history", model, "baseline", [{"epoch": i}] * 200)])
        print(i, flush=True)
"""
ROWS_PER_CELL = 8


@pytest.mark.parametrize("kill_after, die_in_commit", [(3, False), (25, False), (5, True)])
def test_sigkill_loses_at_most_the_cell_in_progress(tmp_path: Path, kill_after: int, die_in_commit: bool) -> None:
    extra = [str(kill_after)] if die_in_commit else []
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(kill_after):
            assert writer.stdout.readline(), writer.stderr.read()
        if die_in_commit:
            writer.wait(timeout=60)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
        writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    if die_in_commit:  # killed inside the transaction: SQLite left a hot journal to roll back
        assert (tmp_path / f"{RESULTS_DB}-journal").stat().st_size > 0

    with sqlite3.connect(tmp_path / RESULTS_DB) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with ResultStore(tmp_path, create=False) as store:
        done = store.done_cells()
        rows = store.rows()
        history = store.artifacts(HISTORY)
        assert len(done) >= kill_after  # every cell reported committed survived
        if die_in_commit:
            assert len(done) == kill_after  # the cell being committed is lost, whole
        assert {f"{r['model']}|baseline" for r in rows} == done  # no row outside a finished cell
        assert len(rows) == ROWS_PER_CELL * len(done)  # finished cells are whole
        assert {f"{m}|{v}" for m, v in history} == done
        json_path, _ = store.export()
    assert len(read_results(json_path).rows) == len(rows)

    with ResultStore(tmp_path) as store:  # a resumed run goes on where the killed one stopped
        store.commit_cell("model0|baseline", [_row("model0", batch_size=1, latency_ms_p50=1.0)])
        store.commit_cell("late|baseline", [_row("late")])
        assert len(store.done_cells()) == len(done) + 1
        assert len(store.rows()) == ROWS_PER_CELL * (len(done) - 1) + 2
