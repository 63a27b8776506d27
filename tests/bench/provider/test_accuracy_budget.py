"""The provider's int8 accuracy budget: chosen on the validation split, never the test split."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.provider.provider as provider_module
from bench.data import DataSplits, load_splits
from bench.provider.provider import CompressionRequest, ModelProvider
from bench.training.evaluation import evaluate
from bench.training.requests import BuildRequest, DataRequest, TrainingRequest
from compress.variants import parse_variant

INT8 = parse_variant("int8")


def _provider(name: str, weights: Path, cache: Path, splits: DataSplits, max_drop: float) -> ModelProvider:
    return ModelProvider(
        name,
        data=DataRequest("digits", input_size=8),
        training=TrainingRequest(device="cpu", cache_dir=cache),
        build=BuildRequest(weights=str(weights)),
        compression=CompressionRequest(calib_images=64, max_drop=max_drop),
        splits_cache={splits.input_shape[-1]: splits},
    )


@pytest.fixture(scope="module")
def digits_8() -> DataSplits:
    """Digits at 8x8: 180 validation and 360 test images."""
    return load_splits("digits", input_size=8)


def test_int8_keeps_the_culprit_float_choosing_on_the_validation_split(
    outlier_model: str, outlier_weights: Path, digits_8: DataSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[int] = []

    def spy(model, dataset, **kwargs):
        evaluated.append(len(dataset))
        return evaluate(model, dataset, **kwargs)

    provider = _provider(outlier_model, outlier_weights, tmp_path, digits_8, max_drop=2.0)
    base = provider.baseline()  # loaded and evaluated on the test split before the spy
    monkeypatch.setattr(provider_module, "evaluate", spy)
    built = provider.variant(INT8)
    search = built.search
    assert search is not None and search.met and search.int8_top1 < search.reference_top1 - 20.0
    assert built.quant.float_layers == search.float_layers and "conv2" in search.float_layers
    assert evaluated and set(evaluated) == {len(digits_8.val)} != {len(digits_8.test)}
    assert search.reference_top1 == evaluate(base.model, digits_8.val, device="cpu").top1


def test_a_large_budget_or_no_labels_means_full_int8(
    outlier_model: str, outlier_weights: Path, digits_8: DataSplits, tmp_path: Path
) -> None:
    built = _provider(outlier_model, outlier_weights, tmp_path, digits_8, max_drop=100.0).variant(INT8)
    assert built.search is None and built.quant.float_layers == ()
    synthetic = ModelProvider(
        outlier_model,
        data=DataRequest("synthetic"),
        training=TrainingRequest(cache_dir=tmp_path),
        compression=CompressionRequest(calib_images=16, max_drop=0.0),
    ).variant(INT8)
    assert synthetic.search is None and synthetic.quant.float_layers == ()  # untrained: no accuracy to keep
