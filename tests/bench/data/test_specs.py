"""The data set table: contract names, shapes, statistics."""

from __future__ import annotations

import pytest

from bench.data import get_dataset_spec, list_datasets
from bench.data.sources import load_digits_raw
from bench.errors import BenchError


def test_every_contract_data_set_is_listed_in_contract_order() -> None:
    assert list_datasets() == [
        "digits",
        "mnist",
        "fashion-mnist",
        "cifar10",
        "cifar100",
        "imagenet",
        "imagefolder",
        "synthetic",
    ]


@pytest.mark.parametrize(
    ("name", "shape", "classes"),
    [
        ("digits", (1, 32), 10),
        ("mnist", (1, 32), 10),
        ("fashion-mnist", (1, 32), 10),
        ("cifar10", (3, 32), 10),
        ("cifar100", (3, 32), 100),
        ("imagenet", (3, 224), 1000),
        ("imagefolder", (3, 224), None),
        ("synthetic", (3, 224), 1000),
    ],
)
def test_shapes_and_class_counts(name: str, shape: tuple[int, int], classes: int | None) -> None:
    spec = get_dataset_spec(name)
    assert (spec.in_chans, spec.image_size) == shape
    assert spec.num_classes == classes
    assert len(spec.mean) == len(spec.std) == spec.in_chans


def test_only_synthetic_has_no_labels_and_only_bundled_sets_need_no_files() -> None:
    assert [n for n in list_datasets() if not get_dataset_spec(n).has_labels] == ["synthetic"]
    assert [n for n in list_datasets() if not get_dataset_spec(n).needs_data_dir] == ["digits", "synthetic"]


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(BenchError, match=r"did you mean digits"):
        get_dataset_spec("digit")


def test_names_are_case_insensitive() -> None:
    assert get_dataset_spec("CIFAR10").name == "cifar10"


def test_digits_statistics_match_the_data() -> None:
    source, _ = load_digits_raw().train
    pixels = source.images.float() / 255
    spec = get_dataset_spec("digits")
    assert pixels.mean().item() == pytest.approx(spec.mean[0], abs=1e-3)
    assert pixels.std().item() == pytest.approx(spec.std[0], abs=1e-3)


def test_grey_statistics_of_an_rgb_set_average_the_channels() -> None:
    mean, std = get_dataset_spec("imagefolder").stats_for(1)
    assert mean == pytest.approx((sum((0.485, 0.456, 0.406)) / 3,))
    assert std == pytest.approx((sum((0.229, 0.224, 0.225)) / 3,))
    cifar = get_dataset_spec("cifar10")
    assert cifar.stats_for(3) == (cifar.mean, cifar.std)
    assert get_dataset_spec("mnist").stats_for(3) == ((0.1307,) * 3, (0.3081,) * 3)
