"""imagefolder / imagenet on small folders of real image files (PNG, JPEG, GIF)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import load_splits
from bench.data.transforms import eval_resize_size, folder_transforms
from bench.errors import BenchError

CLASSES = ("cat", "dog", "owl")


def write_images(folder: Path, count: int, *, mode: str = "L", size=(20, 24), ext: str = "png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(count):
        shape = size[::-1] + ((3,) if mode == "RGB" else ())
        Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode).save(folder / f"{i}.{ext}")


def make_folder(root: Path, *, mode: str = "L", test: bool = False, train_count: int = 10) -> Path:
    for name in CLASSES:
        write_images(root / "train" / name, train_count, mode=mode)
        write_images(root / "val" / name, 3, mode=mode, ext="jpg" if mode == "RGB" else "png")
        if test:
            write_images(root / "test" / name, 2, mode=mode)
    return root


def test_without_test_folder_val_is_the_test_split_and_val_is_carved_from_train(tmp_path: Path) -> None:
    splits = load_splits("imagefolder", data_dir=make_folder(tmp_path), input_size=32)
    assert splits.class_names == list(CLASSES) and splits.num_classes == 3
    assert splits.sizes() == {"train": 27, "val": 3, "test": 9}
    assert splits.val.source is splits.train.source
    assert not set(splits.val.indices) & set(splits.train.indices)
    assert sorted(splits.test.targets()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_test_folder_is_used_when_present(tmp_path: Path) -> None:
    splits = load_splits("imagefolder", data_dir=make_folder(tmp_path, test=True), input_size=32)
    assert splits.sizes() == {"train": 30, "val": 9, "test": 6}


def test_grey_images_give_one_channel_and_colour_images_three(tmp_path: Path) -> None:
    grey = load_splits("imagefolder", data_dir=make_folder(tmp_path / "grey"), input_size=28)
    assert grey.input_shape == (1, 28, 28) and grey.train[0][0].shape == (1, 28, 28)
    colour = load_splits("imagefolder", data_dir=make_folder(tmp_path / "rgb", mode="RGB"), input_size=28)
    assert colour.input_shape == (3, 28, 28) and colour.test[0][0].shape == (3, 28, 28)


def test_in_chans_forces_the_channel_count(tmp_path: Path) -> None:
    splits = load_splits("imagefolder", data_dir=make_folder(tmp_path, mode="RGB"), input_size=16, in_chans=1)
    assert splits.input_shape == (1, 16, 16) and splits.val[0][0].shape == (1, 16, 16)


def test_any_pil_format_is_read(tmp_path: Path) -> None:
    make_folder(tmp_path)
    write_images(tmp_path / "train" / "cat", 2, ext="gif")
    write_images(tmp_path / "train" / "cat", 1, ext="bmp")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    splits = load_splits("imagefolder", data_dir=tmp_path, input_size=16)
    paths = [path for path, _ in splits.train.source.samples]
    assert any(p.endswith(".gif") for p in paths) and any(p.endswith(".bmp") for p in paths)
    assert not any(p.endswith(".txt") for p in paths)


def test_imagenet_uses_the_reference_evaluation_crop(tmp_path: Path) -> None:
    make_folder(tmp_path, mode="RGB")
    splits = load_splits("imagenet", data_dir=tmp_path)
    assert splits.input_shape == (3, 224, 224) and splits.test[0][0].shape == (3, 224, 224)
    assert (eval_resize_size(224), eval_resize_size(299)) == (256, 342)
    _, evaluation = folder_transforms(input_size=299, mean=(0.5,) * 3, std=(0.5,) * 3)
    sizes = [list(t.size) for t in evaluation.transforms[:2]]  # Resize(342), CenterCrop(299)
    assert sizes == [[342], [299, 299]]


def _missing_dir(root: Path) -> None:
    pass


def _missing_split(root: Path) -> None:
    shutil.rmtree(make_folder(root) / "val")


def _empty_class(root: Path) -> None:
    (make_folder(root) / "train" / "emu").mkdir()


def _unknown_class(root: Path) -> None:
    write_images(make_folder(root) / "val" / "yak", 1)


def _no_classes(root: Path) -> None:
    (root / "train").mkdir(parents=True)
    (root / "val").mkdir()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_missing_dir, r"does not exist"),
        (_missing_split, r"has no val/ folder"),
        (_empty_class, r"class folder .*emu holds no images"),
        (_unknown_class, r"class folders that train/ lacks: yak"),
        (_no_classes, r"no class folders"),
    ],
    ids=["missing-dir", "missing-split", "empty-class", "unknown-class", "no-classes"],
)
def test_bad_layouts_are_one_line_errors(tmp_path: Path, damage, message: str) -> None:
    root = tmp_path / "data"
    damage(root)
    with pytest.raises(BenchError, match=message) as info:
        load_splits("imagefolder", data_dir=root)
    assert "\n" not in str(info.value)


def test_an_undecodable_image_names_the_file(tmp_path: Path) -> None:
    make_folder(tmp_path)
    broken = tmp_path / "val" / "dog" / "broken.png"
    broken.write_bytes(b"not a png")
    splits = load_splits("imagefolder", data_dir=tmp_path, input_size=16)
    index = [path for path, _ in splits.test.source.samples].index(str(broken))
    with pytest.raises(BenchError, match=r"cannot read image .*broken.png"):
        splits.test[index]


def _one_class(root: Path) -> None:
    write_images(root / "train" / "cat", 4)
    write_images(root / "val" / "cat", 2)


def _class_missing_in_val(root: Path) -> None:
    shutil.rmtree(make_folder(root) / "val" / "owl")


def _class_missing_in_test(root: Path) -> None:
    shutil.rmtree(make_folder(root, test=True) / "test" / "dog")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_one_class, r"holds one class folder \(cat\): a classifier needs at least two classes"),
        (_class_missing_in_val, r"val lacks class folders that train/ has: owl"),
        (_class_missing_in_test, r"test lacks class folders that train/ has: dog"),
    ],
    ids=["one-class", "class-missing-in-val", "class-missing-in-test"],
)
def test_fewer_than_two_classes_or_a_split_without_a_class_is_refused(tmp_path: Path, damage, message: str) -> None:
    root = tmp_path / "data"
    damage(root)
    with pytest.raises(BenchError, match=message) as info:
        load_splits("imagefolder", data_dir=root)
    assert "\n" not in str(info.value)


def write_digit_like(folder: Path, count: int, *, label: int) -> None:
    """28x28 grey PNGs, black with a bright bar whose row depends on the class (MNIST-like)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.zeros((28, 28), dtype=np.uint8)
        pixels[6 + 8 * label : 10 + 8 * label, 4 + i % 4 : 24] = 255
        Image.fromarray(pixels, "L").save(folder / f"{i}.png")


def digit_folder(root: Path) -> Path:
    for label in range(2):
        write_digit_like(root / "train" / str(label), 12, label=label)
        write_digit_like(root / "val" / str(label), 3, label=label)
    return root


def test_small_grey_images_are_inferred_and_get_the_light_augmentation(tmp_path: Path) -> None:
    root = digit_folder(tmp_path)
    splits = load_splits("imagefolder", data_dir=root, input_size=32)
    assert splits.input_shape == (1, 32, 32)
    pixels = np.concatenate(
        [np.asarray(Image.open(path), dtype=np.float64).ravel() / 255 for path, _ in splits.train.source.samples]
    )
    assert splits.identity["stats"] == pytest.approx([pixels.mean(), pixels.std()], abs=1e-3)
    assert splits.identity["augment"] == {"kind": "light", "translate_px": 2, "hflip": False}
    line = splits.inferred
    assert line is not None and "\n" not in line
    assert "2 classes, 1 channel (grey), images 28x28" in line and "from 24 sampled images" in line
    assert "training augmentation light (pad-and-crop 2 px, no flip), input 32x32" in line
    plain = torch.stack([splits.train_plain[i][0] for i in range(len(splits.train_plain))])
    assert plain.mean().item() == pytest.approx(0.0, abs=0.1)  # normalized by the inferred statistics
    torch.manual_seed(0)
    image, _ = splits.train[0]
    shifted = [splits.train[0][0] for _ in range(12)]
    assert any(not torch.equal(s, splits.train_plain[0][0]) for s in shifted)  # translated
    assert not any(torch.equal(s, splits.train_plain[0][0].flip(-1)) for s in shifted)  # never mirrored
    assert image.shape == (1, 32, 32)


def test_large_colour_images_get_the_imagenet_augmentation(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_images(tmp_path / "train" / name, 3, mode="RGB", size=(120, 96))
        write_images(tmp_path / "val" / name, 1, mode="RGB", size=(120, 96))
    splits = load_splits("imagefolder", data_dir=tmp_path, input_size=64)
    assert splits.input_shape == (3, 64, 64)
    assert splits.identity["augment"] == {"kind": "imagenet", "translate_px": 0, "hflip": True}
    assert "3 channels (colour), images 120x96" in splits.inferred
    assert "imagenet (random resized crop, flip)" in splits.inferred
    assert len(splits.identity["stats"]) == 6
    assert splits.train[0][0].shape == (3, 64, 64)


def test_augment_and_hflip_override_what_the_folder_would_get(tmp_path: Path) -> None:
    root = digit_folder(tmp_path)
    none = load_splits("imagefolder", data_dir=root, input_size=32, augment="none")
    assert none.identity["augment"]["kind"] == "none"
    assert torch.equal(none.train[1][0], none.train_plain[1][0])  # training images as evaluated
    flipped = load_splits("imagefolder", data_dir=root, input_size=32, hflip=True)
    assert flipped.identity["augment"] == {"kind": "light", "translate_px": 2, "hflip": True}
    large = load_splits("imagefolder", data_dir=root, input_size=32, augment="imagenet", hflip=False)
    assert large.identity["augment"] == {"kind": "imagenet", "translate_px": 0, "hflip": False}
    assert "imagenet (random resized crop, no flip)" in large.inferred


def test_a_non_default_augmentation_joins_the_identity_of_the_tensor_sets() -> None:
    default = load_splits("digits")
    assert "augment" not in default.identity and default.inferred is None
    plain = load_splits("digits", augment="none")
    assert plain.identity["augment"] == {"kind": "none", "translate_px": 0, "hflip": False}
    assert torch.equal(plain.train[0][0], plain.train_plain[0][0])
    with pytest.raises(BenchError, match=r"--augment imagenet crops full-resolution photos"):
        load_splits("digits", augment="imagenet")
    with pytest.raises(BenchError, match=r"unknown --augment 'heavy'"):
        load_splits("digits", augment="heavy")


def test_an_image_folder_defaults_to_the_models_native_input_size() -> None:
    from bench.data import get_dataset_spec
    from bench.training.requests import input_size_for
    from bench.zoo import get_model_spec

    folder = get_dataset_spec("imagefolder")
    assert input_size_for(get_model_spec("lenet5"), folder) == 32
    assert input_size_for(get_model_spec("resnet18"), folder) == 224
    assert input_size_for(get_model_spec("lenet5"), folder, 48) == 48
    assert input_size_for(get_model_spec("resnet18"), get_dataset_spec("imagenet")) == 224


def test_the_sample_is_bounded_and_spread_over_the_classes() -> None:
    from bench.data.folders import sample_paths

    samples = [(f"{label}/{i}.png", label) for label in range(3) for i in range(100)]
    picked = sample_paths(samples, 10)
    assert len(picked) == 10 and {p.split("/")[0] for p in picked} == {"0", "1", "2"}
    assert picked == sample_paths(samples, 10)  # stable
    assert len(sample_paths(samples[:5], 64)) == 5
