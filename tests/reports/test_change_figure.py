"""The run-to-run figure: per-row change per check, error bars where compare gives intervals."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import reports.change_figure as change_figure
from bench.results.results_file import ResultSet
from reports.change_figure import MAX_ROWS, change_interval, draw_change, plot_change
from reports.compare import compare_results
from reports.thresholds import parse_checks


def _comparison(rows: list[dict], *, slower: float = 1.4, drop_every: int = 5):
    """BASE = ``rows``; NEW = the same rows with seeded latency changes and some top-1 drops."""
    rng = random.Random(1)
    new = []
    for index, row in enumerate(rows):
        row = dict(row)
        if row["latency_ms_p50"]:
            row["latency_ms_p50"] *= rng.uniform(0.85, slower)
        if row["top1"] is not None and index % drop_every == 0:
            row["top1"] -= 0.8
        new.append(row)
    base_set, new_set = ResultSet({}, rows, Path("runs/base")), ResultSet({}, new, Path("runs/new"))
    return compare_results(base_set, new_set, parse_checks(None))


def _yticks(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_yticklabels()]


def _legend_texts(figure: Figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


@pytest.mark.parametrize("models", [1, 3, 23])
@pytest.mark.parametrize("intervals", [False, True])
def test_change_figure_reads_with_and_without_intervals(
    results_rows, assert_readable, monkeypatch: pytest.MonkeyPatch, models: int, intervals: bool
) -> None:
    if intervals:  # what compare will give once its outcomes carry bootstrap intervals
        monkeypatch.setattr(
            change_figure,
            "change_interval",
            lambda o: None if o.relative is None else (o.relative - 0.02, o.relative + 0.03),
        )
    figure = draw_change(_comparison(results_rows(models)))
    assert isinstance(figure, Figure)
    assert_readable(figure)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["top1 (limit -0.5)", "latency_ms_p50 (limit +25%)"]  # params and MACs did not move
    bars = sum(len(axes.containers) for axes in figure.axes)
    assert (bars > 0) is intervals
    assert ("confidence interval" in _legend_texts(figure)) is intervals
    assert ("no confidence intervals in this comparison" in _legend_texts(figure)) is not intervals


def test_today_compare_gives_no_interval(results_rows) -> None:
    comparison = _comparison(results_rows(1))
    assert all(change_interval(o) is None for row in comparison.rows for o in row.outcomes)


def test_many_rows_show_every_regression_and_the_largest_changes(results_rows) -> None:
    comparison = _comparison(results_rows(23), slower=1.1, drop_every=1000)  # few regressions
    figure = draw_change(comparison)
    shown = _yticks(figure)
    measured = [row for row in comparison.rows if row.both_ok]  # resnet152 pruned-50 failed
    assert len(shown) == MAX_ROWS < len(measured)
    regressed = [row for row in measured if row.regressions()]
    assert regressed and all(change_figure._label(row) in shown for row in regressed)
    assert f"{MAX_ROWS} of {len(measured)} rows" in figure._suptitle.get_text()


def test_a_comparison_without_change_gives_a_reason(results_rows, tmp_path: Path) -> None:
    rows = results_rows(1)
    comparison = compare_results(ResultSet({}, rows, tmp_path), ResultSet({}, rows, tmp_path), parse_checks(None))
    result = plot_change(comparison, tmp_path / "change.png")
    assert result.path is None and "no checked value changed" in result.reason
    assert not (tmp_path / "change.png").exists()


def test_timing_outcomes_give_their_bootstrap_interval() -> None:
    import numpy as np

    from bench.results.schema import make_row

    rng = np.random.default_rng(0)

    def row(scale: float) -> dict:
        samples = rng.normal(1.0, 0.02, 200) * scale
        return make_row(
            model="lenet5", variant="baseline", dataset="digits", input_size="1x32x32", device="cpu",
            precision="fp32", batch_size=1, latency_ms_p50=float(np.median(samples)), iterations=200,
            latency_samples_ms=samples.tolist(),
        )  # fmt: skip

    comparison = compare_results(
        ResultSet({}, [row(1.0)], Path("a")), ResultSet({}, [row(1.4)], Path("b")), parse_checks(None)
    )
    outcome = next(o for o in comparison.rows[0].outcomes if o.metric == "latency_ms_p50")
    low, high = change_interval(outcome)
    assert low < outcome.relative < high and low > 0.3
