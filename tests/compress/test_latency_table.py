import json

import pytest
import torch

from bench.zoo import create_model
from compress.latency_table import (
    TableRequest,
    build_latency_table,
    candidate_width,
    measure_multiple,
    multiple_from_curve,
    probe_widths,
)


def _lenet():
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


def _staircase(step, widths):
    return [float(-(-w // step) * step) for w in widths]


@pytest.mark.parametrize("step", [4, 8, 16, 32])
def test_multiple_is_where_latency_steps(step):
    widths = probe_widths(256)
    assert widths[0] == 256 and len(widths) == 64
    assert multiple_from_curve(widths, _staircase(step, widths)) == step


def test_smooth_curve_has_multiple_one():
    widths = probe_widths(128)
    assert multiple_from_curve(widths, [1.0 + 0.01 * w for w in widths]) == 1


def test_noise_alone_is_not_a_multiple():
    widths = probe_widths(128)
    noisy = [10.0 + (0.05 if w % 3 else -0.05) for w in widths]
    assert multiple_from_curve(widths, noisy) == 1


def test_padding_penalty_finds_the_fast_multiple():
    # multiples of 8 run fast, every other width pays a slow path
    widths = probe_widths(128)
    ms = [1.0 + 0.001 * w + (0.0 if w % 8 == 0 else 0.5) for w in widths]
    assert multiple_from_curve(widths, ms) == 8


def test_probe_times_the_largest_conv_at_descending_widths(fake_device):
    device = fake_device(step=8)
    probe = measure_multiple(_lenet(), torch.randn(1, 1, 32, 32), timer=device)
    assert probe is not None
    assert probe.layer == "features.3"  # 16 x 6 x 5 x 5 at 10x10: lenet5's most MACs
    assert probe.widths == tuple(range(16, 0, -1))
    assert probe.multiple == 8


def test_candidate_widths_follow_the_multiple():
    assert candidate_width(120, 0.5, 8) == 64
    assert candidate_width(120, 0.25, 8) == 32
    assert candidate_width(16, 0.75, 8) is None  # rounds back to the full width
    assert candidate_width(6, 0.5, 8) == 3  # narrower than two multiples: exact


def test_table_measures_each_group_and_is_cached(tmp_path, fake_device):
    model, inputs = _lenet(), torch.randn(1, 1, 32, 32)
    device = fake_device(step=8)
    request = TableRequest(batch_size=2, cache_dir=tmp_path, budget_s=1e9)
    table = build_latency_table(model, inputs, request, timer=device, clock=device.clock)
    assert not table.truncated and not table.from_cache
    assert table.multiple == 8
    assert set(table.groups) == {"features.0", "features.3", "features.6"}
    assert table.groups["features.6"].width == 120
    assert [w for w, _ in table.groups["features.6"].points] == [32, 64, 88, 120]
    full = dict(table.groups["features.6"].points)[120]
    assert full == pytest.approx(device.latency(model))
    assert dict(table.groups["features.6"].points)[64] < full  # a narrower group runs faster
    path = tmp_path / "latency"
    (written,) = path.iterdir()
    assert written.name.startswith("lenet5-1x32x32-b2-cpu-")
    assert json.loads(written.read_text())["key"]["threads"] == torch.get_num_threads()

    again = fake_device(step=8)
    cached = build_latency_table(model, inputs, request, timer=again, clock=again.clock)
    assert again.calls == 0 and cached.from_cache
    assert cached.groups == table.groups and cached.multiple == 8

    other = fake_device(step=8)
    build_latency_table(model, inputs, TableRequest(batch_size=4, cache_dir=tmp_path), timer=other, clock=other.clock)
    assert other.calls > 0  # another batch size is another table
    assert len(list(path.iterdir())) == 2


def test_other_threads_is_another_table(tmp_path, fake_device):
    model, inputs = _lenet(), torch.randn(1, 1, 32, 32)
    for threads in (1, 2):
        device = fake_device()
        table = build_latency_table(
            model, inputs, TableRequest(threads=threads, cache_dir=tmp_path), timer=device, clock=device.clock
        )
        assert not table.from_cache and table.key["threads"] == threads


def test_budget_cuts_the_table_short_and_says_so(fake_device):
    model, inputs = _lenet(), torch.randn(1, 1, 32, 32)
    full_device, short_device = fake_device(tick=1.0), fake_device(tick=1.0)
    full = build_latency_table(model, inputs, TableRequest(budget_s=1e9), timer=full_device, clock=full_device.clock)
    short = build_latency_table(
        model, inputs, TableRequest(budget_s=20.0), timer=short_device, clock=short_device.clock
    )
    assert not full.truncated and short.truncated
    assert 0 < short.measured_points < full.measured_points
    # probe 16 s, baseline 1 s, then the first pass (half width, every group) in one call of
    # 4 s: the budget is spent before any group gets a second width
    assert all(len(group.points) == 2 for group in short.groups.values())


def test_damaged_cache_file_is_measured_again(tmp_path, fake_device):
    model, inputs = _lenet(), torch.randn(1, 1, 32, 32)
    device = fake_device()
    request = TableRequest(cache_dir=tmp_path)
    build_latency_table(model, inputs, request, timer=device, clock=device.clock)
    (written,) = (tmp_path / "latency").iterdir()
    written.write_text("{not json")
    again = fake_device()
    table = build_latency_table(model, inputs, request, timer=again, clock=again.clock)
    assert again.calls > 0 and not table.from_cache


def test_a_table_cut_short_is_measured_again_for_a_larger_budget(tmp_path, fake_device):
    model, inputs = _lenet(), torch.randn(1, 1, 32, 32)
    short = fake_device(tick=1.0)
    first = build_latency_table(
        model, inputs, TableRequest(budget_s=20.0, cache_dir=tmp_path), timer=short, clock=short.clock
    )
    assert first.truncated
    same = fake_device(tick=1.0)
    build_latency_table(model, inputs, TableRequest(budget_s=20.0, cache_dir=tmp_path), timer=same, clock=same.clock)
    assert same.calls == 0  # the same budget: the cached table is what it would measure
    larger = fake_device(tick=1.0)
    again = build_latency_table(
        model, inputs, TableRequest(budget_s=1e9, cache_dir=tmp_path), timer=larger, clock=larger.clock
    )
    assert larger.calls > 0 and not again.truncated and again.measured_points > first.measured_points


def test_a_short_budget_measures_the_costliest_layers_first(fake_device, monkeypatch):
    import compress.latency_table as latency_table

    monkeypatch.setattr(latency_table, "POINTS_PER_CALL", 1)
    device = fake_device(tick=1.0)  # probe 16 s, baseline 1 s, then 2 s a point
    table = build_latency_table(
        _lenet(), torch.randn(1, 1, 32, 32), TableRequest(budget_s=19.0), timer=device, clock=device.clock
    )
    measured = [name for name, group in table.groups.items() if len(group.points) > 1]
    assert table.truncated and measured == ["features.3"]  # 240,000 MACs: lenet5's costliest layer
