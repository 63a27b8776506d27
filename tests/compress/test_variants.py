"""Variant names are the user contract: they must round-trip and reject bad input in one line."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from compress.variants import (
    make_variant,
    parse_quantize,
    parse_ratios,
    parse_variant,
    plan_variants,
    variant_name,
)


@pytest.mark.parametrize(
    ("ratio", "quantize", "name"),
    [
        (None, None, "baseline"),
        (0.5, None, "pruned-50"),
        (0.3, None, "pruned-30"),
        (0.125, None, "pruned-12.5"),
        (None, "int8", "int8"),
        (0.5, "int8", "pruned-50+int8"),
        (0.07, "int8", "pruned-7+int8"),
    ],
)
def test_names_follow_the_contract_and_round_trip(ratio, quantize, name):
    assert variant_name(ratio, quantize) == name
    variant = parse_variant(name)
    assert (variant.name, variant.prune_ratio, variant.quantize) == (name, ratio, quantize)
    assert variant == make_variant(ratio, quantize)


def test_variant_flags():
    assert parse_variant("baseline").is_baseline
    both = parse_variant("pruned-50+int8")
    assert both.is_pruned and both.is_quantized and not both.is_baseline


@pytest.mark.parametrize(
    "name",
    [
        "pruned",
        "pruned-",
        "pruned-150",
        "pruned-0",
        "int4",
        "int8+pruned-50",
        "int8+int8",
        "Baseline",
        "norm-bn",
        "norm-foo",
        "norm-gn+int8",
        "pruned-50+norm-gn",
    ],
)
def test_unknown_variant_names_are_errors(name):
    with pytest.raises(BenchError):
        parse_variant(name)


def test_parse_ratios():
    assert parse_ratios("0.3,0.5") == [0.3, 0.5]
    assert parse_ratios(" 0.5 , 0.3,0.5") == [0.5, 0.3]  # user order, duplicates dropped
    assert parse_ratios("none") == [] and parse_ratios("NONE") == []


@pytest.mark.parametrize("text", ["1.5", "0", "1", "-0.2", "nan", "inf"])
def test_out_of_range_ratio_is_a_one_line_error_naming_the_flag(text):
    with pytest.raises(BenchError) as info:
        parse_ratios(text)
    message = str(info.value)
    assert f"--prune {text}" in message and "\n" not in message
    assert "between 0 and 1" in message


def test_non_numeric_ratio_is_an_error():
    with pytest.raises(BenchError, match="'abc' is not a number"):
        parse_ratios("0.3,abc")


def test_parse_quantize():
    assert parse_quantize("int8") == "int8" and parse_quantize("INT8") == "int8"
    assert parse_quantize("none") is None and parse_quantize(None) is None
    with pytest.raises(BenchError, match="--quantize 'int4'"):
        parse_quantize("int4")


def test_plan_is_stable_floats_first_then_quantized_twins():
    names = [v.name for v in plan_variants([0.5, 0.3], "int8")]
    assert names == ["baseline", "pruned-30", "pruned-50", "int8", "pruned-30+int8", "pruned-50+int8"]
    assert [v.name for v in plan_variants([0.3, 0.5], "int8")] == names
    assert [v.name for v in plan_variants([], None)] == ["baseline"]
    assert [v.name for v in plan_variants([], "int8")] == ["baseline", "int8"]
    assert [v.name for v in plan_variants([0.5], "none")] == ["baseline", "pruned-50"]


@pytest.mark.parametrize("kind", ["gn", "ln", "in", "none"])
def test_norm_variant_names_round_trip(kind):
    variant = parse_variant(f"norm-{kind}")
    assert variant == make_variant(norm=kind) and variant.norm == kind
    assert not (variant.is_baseline or variant.is_pruned or variant.is_quantized)
    assert variant_name(None, None, kind) == f"norm-{kind}"


def test_a_norm_study_adds_its_variants_after_the_baseline_and_bn_is_the_baseline():
    names = [v.name for v in plan_variants([0.5], "int8", ["bn", "GN", "ln", "in", "gn"])]
    assert names == ["baseline", "norm-gn", "norm-ln", "norm-in", "pruned-50", "int8", "pruned-50+int8"]
    assert [v.name for v in plan_variants([], None, ["bn"])] == ["baseline"]
    with pytest.raises(BenchError, match="--norm 'bm' is not a normalization"):
        plan_variants([], None, ["bm"])
    with pytest.raises(ValueError):
        variant_name(0.5, None, "gn")  # norm variants are never compressed


def test_latency_target_names_round_trip():
    from compress.variants import make_variant, parse_variant, plan_variants

    for name in ("pruned-2x", "pruned-2.5x", "pruned-2x+int8"):
        variant = parse_variant(name)
        assert variant.name == name
        assert variant.is_pruned and variant.is_latency_pruned and variant.prune_ratio is None
    assert make_variant(prune_target="latency:0.5") == parse_variant("pruned-2x")
    names = [v.name for v in plan_variants([0.5], "int8", targets=["speedup:2", "latency:0.5", "speedup:1.5"])]
    assert names == [
        "baseline",
        "pruned-50",
        "pruned-1.5x",
        "pruned-2x",
        "int8",
        "pruned-50+int8",
        "pruned-1.5x+int8",
        "pruned-2x+int8",
    ]
