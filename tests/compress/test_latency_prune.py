import pytest
import torch

from bench.zoo import create_model
from compress.latency_prune import LatencyPruning, LatencySettings, prune_to_target


def _lenet():
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


def _widths(model):
    return {name: model.get_submodule(name).out_channels for name in ("features.0", "features.3", "features.6")}


def test_reaches_the_goal_and_reports_what_it_measured(fake_device):
    device = fake_device(step=8)
    base = _lenet()
    before = _widths(base)
    pruned, result = prune_to_target(base, "speedup:1.5", torch.randn(1, 1, 32, 32), timer=device, clock=device.clock)
    assert _widths(base) == before  # the baseline is not changed
    assert result.reached and result.target == "speedup:1.5"
    assert result.speedup >= 1.5
    assert result.speedup == pytest.approx(device.latency(base) / device.latency(pruned))  # measured, not predicted
    assert _widths(pruned) == result.widths
    assert result.narrowed and all(result.widths[n] < result.full_widths[n] for n in result.narrowed)
    assert result.multiple == 8
    assert pruned(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert LatencyPruning.from_dict(result.to_dict()) == result


def test_a_missed_goal_moves_on_along_the_path_then_keeps_the_least_pruned_hit(fake_device):
    table_device = fake_device(step=8)
    slow_check = fake_device(step=8, scale=0.8)  # the pruned model runs 20% slower than the table predicts
    _, result = prune_to_target(
        _lenet(), "speedup:1.3", torch.randn(1, 1, 32, 32), settings=LatencySettings(tries=6),
        timer=table_device, check_timer=slow_check, clock=table_device.clock,
    )  # fmt: skip
    first, second = result.attempts[:2]
    assert first.goal == 1.3 and first.measured < 1.3  # predicted to reach it, measured short
    assert second.step > first.step and second.goal > first.goal  # moved on by the shortfall
    assert all(a.measured == pytest.approx(a.predicted * 0.8, rel=0.25) for a in result.attempts)
    assert len({a.step for a in result.attempts}) == len(result.attempts) <= 6  # no point measured twice
    hits = [a for a in result.attempts if a.measured >= 1.3]
    chosen = min(hits, key=lambda a: a.step)
    assert result.reached and result.widths == chosen.widths
    assert result.speedup == chosen.measured  # the reported figure is a measured one
    misses = [a.step for a in result.attempts if a.measured < 1.3]
    assert max(misses) < chosen.step  # bracketed: every miss lies before the point kept


def test_an_unreachable_goal_reports_the_fastest_measured(fake_device):
    device = fake_device(step=8)
    slow_check = fake_device(step=8, scale=0.2)
    _, result = prune_to_target(
        _lenet(), "speedup:4", torch.randn(1, 1, 32, 32), settings=LatencySettings(tries=3),
        timer=device, check_timer=slow_check, clock=device.clock,
    )  # fmt: skip
    assert not result.reached
    assert result.speedup == max(a.measured for a in result.attempts) < 4
    assert 1 <= len(result.attempts) <= 3


def test_models_handed_to_the_timer_are_never_pruned_afterwards(fake_device):
    """The timer moves what it times to the device (float64 stands in for a GPU here): pruning
    must work on CPU copies it never saw, or the trace would mix devices."""
    device = fake_device(step=8, moves=True)
    slow_check = fake_device(step=8, scale=0.8, moves=True)  # misses: the retries prune again
    pruned, result = prune_to_target(
        _lenet(), "speedup:1.3", torch.randn(1, 1, 32, 32), timer=device, check_timer=slow_check, clock=device.clock
    )
    assert len(result.attempts) >= 2 and _widths(pruned) == result.widths
