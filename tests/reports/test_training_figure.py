"""The report's training figure: a panel per model, readable for one model and for the whole zoo."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from reports.training_figure import draw_training_curves, plot_training_curves


def _history(epochs: int, start: float) -> list[dict]:
    return [
        {"epoch": e, "train_top1": 100 - (100 - start) / e, "val_top1": 99 - (99 - start) / e, "train_loss": 1 / e}
        for e in range(1, epochs + 1)
    ]


@pytest.mark.parametrize("models", [1, 3, 23])
def test_one_panel_per_model_and_readable(results_rows, assert_readable, models: int) -> None:
    names = list(dict.fromkeys(row["model"] for row in results_rows(models)))
    histories = {}
    for index, name in enumerate(names):
        histories[(name, "baseline")] = _history(10 + index % 5, 20.0)
        histories[(name, "pruned-50")] = _history(10 + index % 5, 60.0)
    figure = draw_training_curves(histories, dataset="digits")
    assert isinstance(figure, Figure)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title().split(" ")[0] for axes in panels] == names
    assert all(len(axes.lines) == 4 for axes in panels)  # two variants, training and validation each
    assert "digits" in figure._suptitle.get_text()
    assert_readable(figure)


def test_no_history_gives_a_reason(tmp_path: Path) -> None:
    result = plot_training_curves({("lenet5", "baseline"): []}, tmp_path / "t.png")
    assert result.path is None and "no training history" in result.reason
