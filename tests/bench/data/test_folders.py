"""imagefolder / imagenet on small folders of real image files (PNG, JPEG, GIF)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
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
