"""`bench list` / `bench summary` data: counted on blank models exactly as on real ones."""

from __future__ import annotations

import pytest

from bench.profiling.catalog import DataInput, blank_model, list_rows, model_row, summarize
from bench.profiling.complexity import count_macs, count_params
from bench.zoo import create_model

DIGITS = DataInput(in_chans=1, image_size=32, num_classes=10)
# LeNet-5 MACs at 1x32x32, layer by layer: C1 6*28*28*25, C3 16*10*10*(6*25), C5 120*(16*25),
# F6 120*84, output 84*10.
LENET5_MACS = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 120 * 16 * 25 + 120 * 84 + 84 * 10


@pytest.mark.parametrize("name", ["resnet20", "vgg11_bn", "tv:regnet_x_400mf"])
def test_blank_model_is_the_real_architecture_with_zero_weights(name: str) -> None:
    blank = blank_model(name, DIGITS)
    real = create_model(name, num_classes=10, in_chans=1, input_size=32)
    assert {k: v.shape for k, v in blank.state_dict().items()} == {k: v.shape for k, v in real.state_dict().items()}
    assert all(t.device.type == "cpu" and not t.any() for t in blank.state_dict().values())
    assert blank.bench_cfg == real.bench_cfg


def test_blank_model_counts_like_the_real_model() -> None:
    blank = blank_model("nin", DIGITS)
    real = create_model("nin", num_classes=10, in_chans=1, input_size=32)
    assert count_params(blank) == count_params(real)
    assert count_macs(blank, (1, 32, 32)).macs == count_macs(real, (1, 32, 32)).macs


def test_model_row_for_lenet5_on_digits() -> None:
    row = model_row("lenet5", DIGITS)
    assert row == {
        "model": "lenet5",
        "family": "lenet",
        "year": 1998,
        "input_size": "1x32x32",
        "data_image_size": 32,
        "resized": False,
        "num_classes": 10,
        "adaptation": "",
        "params": 61_706,
        "macs": LENET5_MACS,
        "small_input": "native",
    }


def test_model_row_reports_the_resize() -> None:
    row = model_row("alexnet", DIGITS)
    assert (row["input_size"], row["resized"], row["adaptation"]) == ("1x63x63", True, "resized 32->63")


def test_inception_is_fed_299_from_imagenet_sized_data() -> None:
    model = blank_model("inception_v3", DataInput(in_chans=3, image_size=224, num_classes=1000))
    assert model.bench_cfg.input_size == (3, 299, 299)
    assert model.bench_cfg.adaptation == ""


def test_list_rows_follows_the_given_order() -> None:
    assert [r["model"] for r in list_rows(["resnet20", "lenet5"], DIGITS)] == ["resnet20", "lenet5"]


def test_summary_layers_add_up_to_the_totals() -> None:
    summary = summarize("lenet5", DIGITS)
    assert (summary.params, summary.trainable_params, summary.macs) == (61_706, 61_706, LENET5_MACS)
    assert sum(layer["params"] for layer in summary.layers) == summary.params
    assert sum(layer["macs"] for layer in summary.layers) == summary.macs
    first, last = summary.layers[0], summary.layers[-1]
    assert (first["layer"], first["type"], first["output_shape"]) == ("features.0", "Conv2d", "6x28x28")
    assert (last["layer"], last["type"], last["output_shape"]) == ("classifier.3", "Linear", "10")
    assert "aten::tanh" in summary.unsupported_ops


def test_summary_of_an_adapted_model_says_so() -> None:
    summary = summarize("vgg11", DIGITS)
    assert "CIFAR" in summary.adaptation
    assert summary.layers[-1]["output_shape"] == "10"
