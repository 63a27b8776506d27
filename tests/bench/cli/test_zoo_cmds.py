"""`bench list` and `bench summary` through bench.cli.main.main: output, JSON and exit codes."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from bench.cli.main import main
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.zoo import get_model_spec

# One model per family (and both input policies at ImageNet size): the fvcore counts `bench
# list` prints, checked against torchvision's published table end to end. Every model's
# params and MACs are also checked in tests/bench/zoo/test_references.py.
IMAGENET_SAMPLE = ("alexnet", "zfnet", "vgg11_bn", "nin", "googlenet", "inception_v3", "resnet18", "lenet5")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--format", "json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def imagenet_rows() -> dict[str, dict]:
    """`bench list --dataset imagenet --format json` over the sample, run once for the module."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["list", "--dataset", "imagenet", "--models", ",".join(IMAGENET_SAMPLE), "--format", "json"])
    assert code == EXIT_OK
    document = json.loads(out.getvalue())
    assert document["dataset"] == {"name": "imagenet", "in_chans": 3, "image_size": 224, "num_classes": 1000}
    return {row["model"]: row for row in document["rows"]}


def test_list_imagenet_json_lists_what_was_asked(imagenet_rows: dict[str, dict]) -> None:
    assert list(imagenet_rows) == list(IMAGENET_SAMPLE)
    assert imagenet_rows["inception_v3"]["input_size"] == "3x299x299"
    assert all(row["input_size"] == "3x224x224" for name, row in imagenet_rows.items() if name != "inception_v3")
    assert all(not row["resized"] and row["adaptation"] == "" for row in imagenet_rows.values())


@pytest.mark.parametrize("name", [n for n in IMAGENET_SAMPLE if get_model_spec(n).torchvision_name])
def test_list_imagenet_matches_the_published_table(imagenet_rows: dict[str, dict], name: str) -> None:
    from torchvision.models.inception import InceptionAux

    ref = get_model_spec(name).references[0]
    aux = sum(p.numel() for p in InceptionAux(768, 1000).parameters()) if name == "inception_v3" else 0
    row = imagenet_rows[name]
    assert row["params"] == ref.params - aux
    assert row["macs"] == pytest.approx(ref.gmacs * 1e9, rel=0.02)


def test_list_defaults_to_digits_and_shows_adaptations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--models", "lenet5,alexnet,vgg11,resnet20"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "digits (1x32x32, 10 classes)" in out
    assert "1x63x63" in out and "resized" in out
    assert "adapted (vgg11): below 224: CIFAR-VGG head" in out
    assert "61,706" in out


def test_list_json_rows_for_a_small_data_set(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, "list", "--dataset", "cifar100", "--models", "lenet5,zfnet")
    lenet, zfnet = document["rows"]
    assert (lenet["input_size"], lenet["num_classes"], lenet["small_input"]) == ("3x32x32", 100, "native")
    assert (zfnet["input_size"], zfnet["resized"], zfnet["data_image_size"]) == ("3x53x53", True, 32)
    assert isinstance(zfnet["params"], int) and isinstance(zfnet["macs"], int)


def test_list_help_names_the_default_data_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--help"]) == EXIT_OK
    assert "default: digits" in capsys.readouterr().out


def test_summary_table_is_the_classic_layer_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "lenet5"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "lenet5 on digits: input 1x32x32, 10 classes" in out
    for text in ("features.0", "Conv2d", "6x28x28", "classifier.3", "total", "61,706", "416,520"):
        assert text in out


def test_summary_json(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, "summary", "resnet20", "--dataset", "cifar10")
    assert (document["dataset"], document["model"], document["input_size"]) == ("cifar10", "resnet20", "3x32x32")
    assert document["params"] == 269_722
    assert document["layers"][0] == {
        "layer": "conv1", "type": "Conv2d", "output_shape": "16x32x32", "params": 432, "macs": 442_368,
    }  # fmt: skip
    assert sum(layer["macs"] for layer in document["layers"]) == document["macs"]


def test_summary_of_an_external_model(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, "summary", "tv:squeezenet1_1")
    assert document["input_size"] == "1x32x32" and document["num_classes"] == 10


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "lenet"], "did you mean lenet5"),
        (["summary", "tv:resnet5"], "did you mean resnet50"),
        (["list", "--models", "nosuch*"], "no model matches"),
        (["list", "--dataset", "cifar"], "unknown data set"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, message)


def test_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "lenet5", "--format", "yaml"]) == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, "invalid choice")


def assert_one_line_error(err: str, message: str) -> None:
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
