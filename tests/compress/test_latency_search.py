from compress.latency_search import GroupRow, greedy_widths, predicted_ms


def _rows():
    # "fast" saves a lot of time per channel; "slow" saves little; same importance spread.
    fast = GroupRow(16, ((4, 40.0), (8, 60.0), (12, 80.0), (16, 100.0)), tuple(float(i + 1) for i in range(16)))
    slow = GroupRow(16, ((4, 95.0), (8, 97.0), (12, 99.0), (16, 100.0)), tuple(float(i + 1) for i in range(16)))
    return {"fast": fast, "slow": slow}


def test_interpolation_between_measured_widths():
    row = _rows()["fast"]
    assert row.latency_at(10) == 70.0
    assert row.latency_at(16) == 100.0


def test_search_narrows_the_group_that_saves_time_first():
    rows = _rows()
    widths = greedy_widths(100.0, rows, goal_ms=70.0, unit=4)
    assert predicted_ms(100.0, rows, widths) <= 70.0
    assert widths["fast"] < 16 and widths["slow"] == 16
    assert all(w % 4 == 0 for w in widths.values())


def test_unreachable_goal_stops_at_the_floor():
    rows = _rows()
    widths = greedy_widths(100.0, rows, goal_ms=1.0, unit=4, min_fraction=0.25)
    assert widths == {"fast": 4, "slow": 4}


def test_a_group_without_measured_saving_keeps_its_width():
    rows = _rows()
    rows["unmeasured"] = GroupRow(16, ((16, 100.0),), tuple(float(i + 1) for i in range(16)))
    widths = greedy_widths(100.0, rows, goal_ms=1.0, unit=4, min_fraction=0.25)
    assert widths["unmeasured"] == 16 and widths["fast"] == 4
