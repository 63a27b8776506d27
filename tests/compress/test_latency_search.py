import pytest

from compress.latency_search import GroupRow, greedy_path, predicted_ms


def _rows():
    # "fast" saves a lot of time per channel; "slow" saves little; same importance spread.
    fast = GroupRow(16, ((4, 40.0), (8, 60.0), (12, 80.0), (16, 100.0)), tuple(float(i + 1) for i in range(16)))
    slow = GroupRow(16, ((4, 95.0), (8, 97.0), (12, 99.0), (16, 100.0)), tuple(float(i + 1) for i in range(16)))
    return {"fast": fast, "slow": slow}


def _widths_reaching(rows, goal_ms, **options):
    """The first point on the greedy path predicted at ``goal_ms`` (the last when none is)."""
    path = greedy_path(100.0, rows, **options)
    return path.widths_at(path.first_reaching(100.0 / goal_ms))


def test_interpolation_between_measured_widths():
    row = _rows()["fast"]
    assert row.latency_at(10) == 70.0
    assert row.latency_at(16) == 100.0


def test_search_narrows_the_group_that_saves_time_first():
    rows = _rows()
    widths = _widths_reaching(rows, 70.0, unit=4)
    assert predicted_ms(100.0, rows, widths) <= 70.0
    assert widths["fast"] < 16 and widths["slow"] == 16
    assert all(w % 4 == 0 for w in widths.values())


def test_unreachable_goal_stops_at_the_floor():
    rows = _rows()
    widths = _widths_reaching(rows, 1.0, unit=4, min_fraction=0.25)
    assert widths == {"fast": 4, "slow": 4}


def test_a_group_without_measured_saving_keeps_its_width():
    rows = _rows()
    rows["unmeasured"] = GroupRow(16, ((16, 100.0),), tuple(float(i + 1) for i in range(16)))
    widths = _widths_reaching(rows, 1.0, unit=4, min_fraction=0.25)
    assert widths["unmeasured"] == 16 and widths["fast"] == 4


def test_the_path_steps_one_group_at_a_time_and_predicts_ever_faster():
    rows = _rows()
    path = greedy_path(100.0, rows, unit=4, min_fraction=0.25)
    assert path.widths_at(0) == {"fast": 16, "slow": 16} and path.predicted[0] == 100.0
    assert path.widths_at(len(path) - 1) == {"fast": 4, "slow": 4}
    assert all(b < a for a, b in zip(path.predicted, path.predicted[1:]))
    for i in range(1, len(path)):
        before, after = path.widths_at(i - 1), path.widths_at(i)
        assert sum(before[n] != after[n] for n in rows) == 1
        assert path.predicted[i] == pytest.approx(predicted_ms(100.0, rows, after))
    assert path.speedup_at(path.first_reaching(1.25)) >= 1.25 > path.speedup_at(path.first_reaching(1.25) - 1)
    assert path.first_reaching(100.0) == len(path) - 1  # unreachable: the narrowest point


def test_a_noisy_bump_in_a_row_does_not_end_the_groups_narrowing():
    scores = tuple(float(i + 1) for i in range(16))
    bumpy = GroupRow(16, ((4, 50.0), (8, 70.0), (12, 101.0), (16, 100.0)), scores)  # 12 measured slower than 16
    path = greedy_path(100.0, {"bumpy": bumpy}, unit=4, min_fraction=0.25)
    assert [kept for _, kept in path.steps] == [8, 4]  # the bump at 12 is jumped over


def test_savings_compose_by_ratio_so_predictions_stay_positive_and_ordered():
    """Adding these savings (60 ms each, of 100) would predict -80 ms for all three narrowed."""
    scores = tuple(float(i + 1) for i in range(16))
    rows = {name: GroupRow(16, ((4, 40.0), (16, 100.0)), scores) for name in ("a", "b", "c")}
    path = greedy_path(100.0, rows, unit=4, min_fraction=0.25)
    assert path.predicted[-1] == pytest.approx(100.0 * 0.4**3)
    assert all(0 < b < a for a, b in zip(path.predicted, path.predicted[1:]))
    index = path.first_reaching(4.0)
    assert path.speedup_at(index) >= 4.0 > path.speedup_at(index - 1)


def test_groups_whose_saving_is_within_noise_come_last_in_a_flat_tail():
    scores = tuple(float(i + 1) for i in range(16))
    rows = {
        "clear": GroupRow(16, ((8, 70.0), (16, 100.0)), scores),
        "noise": GroupRow(16, ((8, 100.5), (16, 100.0)), scores),  # narrowed alone: measured no faster
        "unmeasured": GroupRow(16, ((16, 100.0),), scores),  # a truncated table: never narrowed
    }
    path = greedy_path(100.0, rows, unit=4, min_fraction=0.25)
    names = [name for name, _ in path.steps]
    assert names == ["clear", "clear", "noise", "noise"]  # measured savings first, then the tail
    assert path.widths_at(len(path) - 1) == {"clear": 8, "noise": 8, "unmeasured": 16}
    assert path.predicted[-1] == path.predicted[2] == pytest.approx(70.0)  # the tail predicts no gain
    assert path.first_reaching(1.4) == 2  # the first point, not the tail's end
