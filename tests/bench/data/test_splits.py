"""load_splits on the bundled data (digits, synthetic) and make_loader's reproducibility."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from bench.data import load_splits, make_loader
from bench.errors import BenchError


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits")


def test_digits_split_sizes_are_70_10_20_and_disjoint(digits) -> None:
    assert digits.sizes() == {"train": 1257, "val": 180, "test": 360}
    train, val, test = (set(view.indices) for view in (digits.train, digits.val, digits.test))
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == 1797
    assert digits.train_plain.indices == digits.train.indices


def test_digits_split_is_stratified(digits) -> None:
    counts = Counter(digits.test.targets())
    assert sorted(counts) == list(range(10))
    assert max(counts.values()) - min(counts.values()) <= 2


def test_split_never_depends_on_the_training_seed(digits) -> None:
    other = load_splits("digits", seed=123)
    assert other.test.indices == digits.test.indices
    assert other.val.indices == digits.val.indices


def test_digits_samples_are_normalized_grey_32x32(digits) -> None:
    image, label = digits.test[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32
    assert isinstance(label, int) and 0 <= label <= 9
    assert digits.input_shape == (1, 32, 32)
    assert digits.num_classes == 10 and digits.class_names == [str(i) for i in range(10)]
    everything = torch.stack([digits.train_plain[i][0] for i in range(len(digits.train_plain))])
    assert everything.mean().item() == pytest.approx(0.0, abs=0.05)
    assert everything.std().item() == pytest.approx(1.0, abs=0.05)


def test_training_augmentation_translates_but_never_mirrors(digits) -> None:
    torch.manual_seed(0)
    plain, label = digits.train_plain[5]
    augmented = [digits.train[5] for _ in range(20)]
    assert all(lab == label for _, lab in augmented)
    assert any(not torch.equal(img, plain) for img, _ in augmented)
    assert not any(torch.equal(img, plain.flip(-1)) for img, _ in augmented)
    background = plain.min()
    for img, _ in augmented:  # a shifted digit keeps its ink: same pixel multiset up to padding
        assert (img > background + 1e-3).sum() <= (plain > background + 1e-3).sum()


def test_input_size_resizes_for_models_with_a_larger_minimum() -> None:
    splits = load_splits("digits", input_size=63)
    assert splits.input_shape == (1, 63, 63)
    assert splits.train[0][0].shape == splits.test[0][0].shape == (1, 63, 63)


def test_make_loader_shuffles_reproducibly(digits) -> None:
    def order(seed: int) -> list[int]:
        loader = make_loader(digits.val, batch_size=64, shuffle=True, seed=seed)
        return [int(y) for _, labels in loader for y in labels]

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert sorted(order(1)) == sorted(digits.val.targets())


def test_make_loader_can_drop_the_last_partial_batch(digits) -> None:
    loader = make_loader(digits.val, batch_size=64, shuffle=False, seed=0, drop_last=True)
    assert [len(labels) for _, labels in loader] == [64, 64]


def test_synthetic_has_any_size_and_class_count_and_is_deterministic() -> None:
    splits = load_splits("synthetic", input_size=40, num_classes=7, in_chans=2, seed=3)
    assert splits.input_shape == (2, 40, 40) and splits.num_classes == 7
    image, label = splits.train[9]
    assert image.shape == (2, 40, 40) and label == 9 % 7
    again = load_splits("synthetic", input_size=40, num_classes=7, in_chans=2, seed=3)
    assert torch.equal(again.train[9][0], image)
    assert not torch.equal(splits.test[9][0], image)
    assert not splits.spec.has_labels


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="mnist"), r"no data directory was given; pass --data-dir"),
        (dict(name="digits", data_dir="/tmp"), r"does not read a data directory"),
        (dict(name="digits", in_chans=3), r"has 1 channel\(s\), not 3"),
        (dict(name="cifar10", num_classes=5, data_dir="/tmp"), r"synthetic only"),
        (dict(name="digits", input_size=0), r"not positive"),
        (dict(name="imagenette"), r"unknown data set"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs: dict, message: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(BenchError, match=message) as info:
        load_splits(name, **kwargs)
    assert "\n" not in str(info.value)
