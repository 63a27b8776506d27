from __future__ import annotations

import io
import logging

import pytest
import torch
import torchvision
from torch import nn

from bench.errors import BenchError
from bench.profiling.complexity import (
    MacCount,
    count_macs,
    count_macs_flop_counter,
    count_params,
    is_quantized_model,
    layer_table,
    state_dict_size_mb,
)

LENET_SHAPE = (1, 32, 32)
# LeNet-5 at 32x32, 10 classes: C1, C3, C5, F6, output.
LENET_LAYER_MACS = {
    "features.0": 117_600,
    "features.3": 240_000,
    "features.6": 48_000,
    "classifier.1": 10_080,
    "classifier.3": 840,
}


def test_lenet5_params_and_macs(lenet: nn.Module) -> None:
    assert count_params(lenet) == (61_706, 61_706)
    result = count_macs(lenet, LENET_SHAPE)
    assert result.macs == 416_520 == sum(LENET_LAYER_MACS.values())
    assert result.flops == 2 * 416_520
    for name, macs in LENET_LAYER_MACS.items():
        assert result.by_module[name] == macs


def test_uncounted_operators_are_returned_not_logged(
    lenet: nn.Module, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    with caplog.at_level(logging.DEBUG):
        result = count_macs(lenet, LENET_SHAPE)
    assert result.unsupported_ops == {"aten::adaptive_avg_pool2d": 1, "aten::avg_pool2d": 2, "aten::tanh": 4}
    assert not [r for r in caplog.records if r.name.startswith("fvcore")]
    assert [str(w.message) for w in recwarn] == []


def test_batch_norm_and_pooling_are_not_counted(tiny: nn.Module) -> None:
    result = count_macs(tiny, tiny.INPUT_SHAPE)
    assert result.macs == tiny.MACS
    assert result.by_module["bn"] == 0
    assert "aten::batch_norm" in result.unsupported_ops


def test_count_macs_restores_training_mode(tiny: nn.Module) -> None:
    tiny.train()
    tiny.bn.eval()  # a mixed state must come back exactly
    before = tiny.bn.running_mean.clone()
    count_macs(tiny, tiny.INPUT_SHAPE)
    count_macs_flop_counter(tiny, tiny.INPUT_SHAPE)
    layer_table(tiny, tiny.INPUT_SHAPE)
    assert tiny.training and tiny.conv.training and not tiny.bn.training
    assert torch.equal(tiny.bn.running_mean, before)  # eval mode: statistics untouched


def test_matrix_products_in_forward_are_counted() -> None:
    class MatMul(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1) @ self.w.T

    model = MatMul()
    # (1 x 6) @ (6 x 4): 24 MACs
    assert count_macs(model, (1, 2, 3)).macs == 24 == count_macs_flop_counter(model, (1, 2, 3))


@pytest.mark.parametrize("size", [32, 224])
def test_fvcore_agrees_with_torch_flop_counter_on_resnet18(size: int) -> None:
    model = torchvision.models.resnet18(num_classes=1000)
    fvcore_macs = count_macs(model, (3, size, size)).macs
    assert fvcore_macs == count_macs_flop_counter(model, (3, size, size))
    if size == 224:  # torchvision publishes 1.81 GFLOPS (multiply-accumulates)
        assert fvcore_macs == pytest.approx(1.81e9, rel=0.01)


def test_fvcore_agrees_with_torch_flop_counter_on_lenet5(lenet: nn.Module) -> None:
    assert count_macs_flop_counter(lenet, LENET_SHAPE) == count_macs(lenet, LENET_SHAPE).macs


def test_state_dict_size_is_the_serialized_size(lenet: nn.Module) -> None:
    buffer = io.BytesIO()
    torch.save(lenet.state_dict(), buffer)
    assert state_dict_size_mb(lenet) == len(buffer.getvalue()) / 2**20
    # 61,706 float32 values plus pickling overhead
    assert 61_706 * 4 / 2**20 < state_dict_size_mb(lenet) < 61_706 * 4 / 2**20 * 1.1


def test_trainable_params_exclude_frozen(lenet: nn.Module) -> None:
    for p in lenet.features.parameters():
        p.requires_grad_(False)
    frozen = sum(p.numel() for p in lenet.features.parameters())
    assert count_params(lenet) == (61_706, 61_706 - frozen)


def test_layer_table_lenet5(lenet: nn.Module) -> None:
    rows = layer_table(lenet, LENET_SHAPE)
    assert [r.layer for r in rows][:3] == ["features.0", "features.1", "features.2"]
    by_name = {r.layer: r for r in rows}
    assert by_name["features.0"].output_shape == (1, 6, 28, 28)
    assert by_name["features.6"].output_shape == (1, 120, 1, 1)
    assert by_name["classifier.3"].output_shape == (1, 10)
    assert by_name["features.0"].type == "Conv2d"
    assert sum(r.params for r in rows) == 61_706
    assert {r.layer: r.macs for r in rows if r.macs} == LENET_LAYER_MACS


def test_layer_table_reuses_a_given_mac_count(lenet: nn.Module) -> None:
    given = MacCount(macs=1, by_module={"features.0": 5})
    rows = layer_table(lenet, LENET_SHAPE, mac_count=given)
    assert {r.layer: r.macs for r in rows if r.macs} == {"features.0": 5}


def test_layer_table_lists_a_shared_module_once() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.conv(self.act(x)))

    rows = layer_table(Shared(), (1, 4, 4))
    assert [r.layer for r in rows] == ["act", "conv"]


def test_quantized_model_is_detected_and_refused_for_macs(int8_lenet) -> None:
    float_model, int8_model = int8_lenet
    assert is_quantized_model(int8_model) and not is_quantized_model(float_model)
    with pytest.raises(BenchError, match="float model"):
        count_macs(int8_model, LENET_SHAPE)
    with pytest.raises(BenchError, match="quantized"):
        count_macs_flop_counter(int8_model, LENET_SHAPE)


def test_quantized_model_counts_its_packed_weights(int8_lenet) -> None:
    float_model, int8_model = int8_lenet
    assert count_params(int8_model) == (61_706, 0)
    assert state_dict_size_mb(int8_model) < state_dict_size_mb(float_model) / 2


def test_mac_count_flops_is_twice_macs() -> None:
    assert MacCount(macs=7).flops == 14


def test_bad_input_shape_is_a_bench_error(lenet: nn.Module) -> None:
    with pytest.raises(BenchError, match=r"\(C, H, W\)"):
        count_macs(lenet, (32, 32))  # type: ignore[arg-type]
