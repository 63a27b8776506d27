import pytest

from bench.errors import BenchError
from compress.prune_target import parse_target, parse_targets, target_from_label


def test_speedup_and_latency_spell_the_same_goal():
    assert parse_target("speedup:2").speedup == 2.0
    assert parse_target("latency:0.5").speedup == 2.0
    assert parse_target("latency:0.5").label == "pruned-2x"
    assert parse_target("speedup:2.5").label == "pruned-2.5x"
    assert parse_target("latency:0.4").label == "pruned-2.5x"


def test_label_round_trips():
    for text in ("speedup:1.5", "speedup:2", "speedup:3.25"):
        target = parse_target(text)
        assert target_from_label(target.label).speedup == target.speedup
    assert target_from_label("pruned-50") is None
    assert target_from_label("pruned-0.5x") is None


def test_comma_list_drops_duplicates():
    targets = parse_targets("speedup:2,latency:0.5,speedup:3")
    assert [t.speedup for t in targets] == [2.0, 3.0]
    assert parse_targets("none") == []
    assert parse_targets(None) == []


@pytest.mark.parametrize(
    "text",
    ["2", "speedup:", "speedup:x", "speedup:1", "speedup:0.5", "latency:1", "latency:0", "fast:2", "speedup:inf"],
)
def test_bad_text_is_one_line_error(text):
    with pytest.raises(BenchError) as err:
        parse_target(text)
    assert "\n" not in str(err.value)
    assert "--prune-target" in str(err.value)
