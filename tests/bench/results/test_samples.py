"""Latency samples: kept in results.db, compact in results.json and CSV, readable from either."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.results.results_file import read_results, write_results_json
from bench.results.samples import compact_quantiles, pseudo_samples, row_samples
from bench.results.schema import COLUMN_NAMES, FIELD_NAMES, FIELDS, make_row
from bench.results.store import RESULTS_CSV, ResultStore


def _timed(samples: list[float], **values) -> dict:
    where = {"model": "lenet5", "variant": "baseline", "dataset": "digits", "input_size": "1x32x32", "device": "cpu"}
    measured = {"latency_ms_p50": float(np.median(samples)), "iterations": len(samples)} if samples else {}
    return make_row(**{**where, "precision": "fp32", "batch_size": 1, "latency_samples_ms": samples or None,
                       **measured, **values})  # fmt: skip


def test_every_field_says_who_measures_it_its_unit_and_direction() -> None:
    by_name = {f.name: f for f in FIELDS}
    assert by_name["latency_ms_p50"].unit == "ms" and by_name["latency_ms_p50"].higher_is_better is False
    assert by_name["throughput_ips"].higher_is_better is True and by_name["throughput_ips"].measured_by == "timer"
    assert by_name["params"].measured_by == "model" and by_name["top1"].measured_by == "evaluation"
    assert by_name["model"].higher_is_better is None and by_name["latency_ms_std"].higher_is_better is None
    for name in ("latency_ms_min", "latency_ms_p25", "latency_ms_p75", "timing_warnings"):
        assert name in COLUMN_NAMES
    assert set(FIELD_NAMES) - set(COLUMN_NAMES) == {"latency_samples_ms", "latency_quantiles_ms"}


def test_compact_quantiles_rebuild_a_sample_of_the_same_size_and_shape() -> None:
    rng = np.random.default_rng(0)
    samples = rng.lognormal(0.0, 0.5, 777)
    quantiles = compact_quantiles(samples)
    assert len(quantiles) == 101 and quantiles == sorted(quantiles)
    rebuilt = pseudo_samples(quantiles, len(samples))
    assert len(rebuilt) == 777
    for q in (25, 50, 75, 90):
        assert np.percentile(rebuilt, q) == pytest.approx(np.percentile(samples, q), rel=0.01)
    assert row_samples({"latency_quantiles_ms": quantiles, "iterations": 777}).shape == (777,)
    assert row_samples({"latency_ms_p50": 1.0}) is None


def test_store_keeps_every_sample_json_and_csv_carry_the_compact_form(tmp_path: Path) -> None:
    samples = [0.3 + 0.001 * (i % 17) for i in range(500)]
    with ResultStore(tmp_path) as store:
        store.set_run_info({"created": "2025-01-01"})
        store.commit_cell("a", [_timed(samples), _timed([], batch_size=8, status="failed", error="x")])
        rows = store.rows()
        assert rows[0]["latency_samples_ms"] == pytest.approx(samples) and rows[1]["latency_samples_ms"] is None
        assert store.rows_of_cell("a")[0]["latency_samples_ms"] == pytest.approx(samples)
        store.export()
    with ResultStore(tmp_path, create=False) as store:  # persisted, and resumable
        assert len(store.rows()[0]["latency_samples_ms"]) == 500
        store.commit_cell("a", [_timed(samples[:10])])  # the cell again: its samples replaced
        assert len(store.rows()[0]["latency_samples_ms"]) == 10 and len(store.rows()) == 1
    payload = json.loads((tmp_path / "results.json").read_text())
    first = payload["rows"][0]
    assert first["latency_samples_ms"] is None and len(first["latency_quantiles_ms"]) == 101
    assert row_samples(read_results(tmp_path).rows[0]).shape == (500,)
    with (tmp_path / RESULTS_CSV).open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert table[0]["latency_samples_ms"] == "" and len(table[0]["latency_quantiles_ms"].split()) == 101
    assert table[0]["latency_ms_p50"] == str(float(np.median(samples)))


def test_a_results_json_round_trips_its_quantiles(tmp_path: Path) -> None:
    row = _timed([1.0, 2.0, 3.0])
    write_results_json(tmp_path / "a.json", {}, [row])
    again = read_results(tmp_path / "a.json").rows[0]
    write_results_json(tmp_path / "b.json", {}, [again])  # re-export keeps the compact form
    assert read_results(tmp_path / "b.json").rows[0]["latency_quantiles_ms"] == again["latency_quantiles_ms"]
