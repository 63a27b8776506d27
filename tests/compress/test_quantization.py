"""int8 PTQ: quantization must happen, on the chosen engine, quietly, and survive a reload."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from bench.errors import BenchError
from bench.zoo import create_model
from compress.quantization import (
    SUPPORTED_ENGINES,
    check_engine,
    count_quantized,
    load_quantized,
    quantize_int8,
    random_calibration_batches,
    save_quantized,
)


def _lenet() -> nn.Module:
    torch.manual_seed(0)
    return create_model("lenet5", num_classes=10, in_chans=1, input_size=32)


def _relative_error(quantized: torch.Tensor, reference: torch.Tensor) -> float:
    return float((quantized - reference).norm() / reference.norm())


def test_random_calibration_batches_are_seeded_and_sized():
    batches = random_calibration_batches((1, 32, 32), n=70, batch_size=32, seed=1)
    assert [b.shape[0] for b in batches] == [32, 32, 6] and batches[0].shape[1:] == (1, 32, 32)
    assert torch.equal(batches[2], random_calibration_batches((1, 32, 32), n=70, batch_size=32, seed=1)[2])
    assert not torch.equal(batches[0], random_calibration_batches((1, 32, 32), n=70, batch_size=32, seed=2)[0])


def test_lenet_with_tanh_and_average_pooling_quantizes_quietly():
    model = _lenet()
    labelled = [(b, torch.zeros(len(b), dtype=torch.long)) for b in random_calibration_batches((1, 32, 32), 48, 16)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = quantize_int8(model, labelled)
    assert [str(w.message)[:80] for w in caught] == []
    assert result.engine == torch.backends.quantized.engine == "x86"
    assert result.quantized_modules == 5  # 3 convolutions, 2 linear layers
    assert result.calibration_images == 48 and result.float_leaves == ()
    convs = [m for m in result.model.modules() if type(m).__name__ == "Conv2d"]
    assert convs and all(type(m).__module__.startswith("torch.ao.nn.quantized") for m in convs)
    assert all(m.weight().qscheme() == torch.per_channel_affine for m in convs)  # x86 default
    x = torch.randn(8, 1, 32, 32)
    with torch.no_grad():
        assert _relative_error(result.model(x), model.eval()(x)) < 0.1
    assert model.features[0].weight.dtype == torch.float32  # the float model is untouched


def test_residual_additions_run_as_int8_ops():
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10, in_chans=3, input_size=32)
    result = quantize_int8(model, random_calibration_batches((3, 32, 32), 16, 8))
    modules, ops = count_quantized(result.model)
    assert (modules, ops) == (result.quantized_modules, result.quantized_ops)
    assert ops >= 9  # one add(+relu) per basic block
    assert modules >= 20  # 19 convolutions (fused with BN/ReLU) + the classifier
    kinds = {type(m).__name__ for m in result.model.modules()}
    assert "ConvReLU2d" in kinds and "BatchNorm2d" not in kinds  # Conv-BN-ReLU fused


def test_concatenations_and_average_pools_quantize():
    """An Inception/DenseNet-style block: concatenated branches, one behind an average pool."""

    class CatNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 8, 1)
            self.b = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.Conv2d(3, 8, 1))
            self.fc = nn.Linear(19, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x)), x], 1)
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    torch.manual_seed(0)
    model = CatNet()
    result = quantize_int8(model, random_calibration_batches((3, 8, 8), 32, 16))
    assert result.quantized_modules >= 3
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():  # tiny random-weight outputs: 8-bit steps are a visible share of them
        assert _relative_error(result.model(x), model.eval()(x)) < 0.2


@pytest.mark.parametrize("engine", [e for e in SUPPORTED_ENGINES if e in torch.backends.quantized.supported_engines])
def test_every_supported_engine_is_set_and_recorded(engine):
    previous = torch.backends.quantized.engine
    try:
        result = quantize_int8(_lenet(), random_calibration_batches((1, 32, 32), 8, 8), engine=engine)
        assert result.engine == torch.backends.quantized.engine == engine
        assert result.model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    finally:
        torch.backends.quantized.engine = previous


@pytest.mark.parametrize("engine", ["arm", "X86", ""])
def test_unknown_engine_is_a_one_line_error(engine):
    with pytest.raises(BenchError, match="not supported by this torch build; use one of"):
        check_engine(engine)


def test_nothing_quantizable_is_an_error():
    with pytest.raises(BenchError, match="nothing quantizable"):
        quantize_int8(nn.Sequential(nn.Flatten(), nn.Tanh()), random_calibration_batches((1, 4, 4), 4, 4))


def test_no_calibration_data_is_an_error():
    with pytest.raises(BenchError, match="no calibration batches"):
        quantize_int8(_lenet(), [])


class Branchy(nn.Module):
    """Python control flow on a tensor: FX cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y if y.mean() > 0 else -y


def test_untraceable_submodules_become_float_leaves():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), Branchy(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    result = quantize_int8(model, random_calibration_batches((3, 8, 8), 8, 8))
    assert result.float_leaves == ("1",)
    assert result.quantized_modules == 2  # the first convolution and the classifier
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert _relative_error(result.model(x), model.eval()(x)) < 0.1


def test_untraceable_top_level_forward_is_an_error():
    with pytest.raises(BenchError, match="FX cannot trace Branchy.forward"):
        quantize_int8(Branchy(), random_calibration_batches((3, 8, 8), 4, 4))


def test_save_and_reload_give_identical_outputs(tmp_path):
    model = _lenet()
    result = quantize_int8(model, random_calibration_batches((1, 32, 32), 16, 8))
    path = save_quantized(result.model, tmp_path / "int8.pt")
    x = torch.randn(4, 1, 32, 32)
    reloaded = load_quantized(path, model, x[:1])
    with torch.no_grad():
        assert torch.equal(reloaded(x), result.model(x))
    assert count_quantized(reloaded) == count_quantized(result.model)
    with pytest.raises(BenchError, match="quantized for the x86 engine, not qnnpack"):
        load_quantized(path, model, x[:1], engine="qnnpack")
    with pytest.raises(BenchError, match="does not fit this model"):
        load_quantized(path, create_model("lenet5", num_classes=5, in_chans=1, input_size=32), x[:1])
    with pytest.raises(BenchError, match="not made by quantize_int8"):
        save_quantized(model, tmp_path / "float.pt")
