"""pt2e int8: the residual-block failure and its repairs, the q/dq count, the FX-less fallback."""

from __future__ import annotations

import operator
import sys

import pytest
import torch
from torch import nn
from torch.fx.passes.utils.source_matcher_utils import get_source_partitions

pytest.importorskip("torchao")

from bench.errors import BenchError
from bench.profiling.complexity import is_quantized_model
from bench.zoo import create_model
from compress.apply import apply_variant
from compress.pt2e import PT2E_ENGINE, count_qdq, graph_size_mb, quantize_pt2e, split_reused_modules
from compress.quantization import fx_available


class ReusedReLU(nn.Module):
    """A residual block that calls one ReLU module twice, as torchvision's BasicBlock does."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out) + x)
        return self.head(out.mean((2, 3)))


def _relu_partitions(graph: torch.fx.GraphModule) -> list:
    return get_source_partitions(graph.graph, [nn.ReLU, operator.add])[nn.ReLU]


def test_a_non_strict_export_merges_both_calls_of_a_reused_module_and_the_split_repairs_it() -> None:
    example = torch.randn(2, 4, 8, 8)
    graph = torch.export.export(ReusedReLU().eval(), (example,), strict=False).module()
    assert any(len(p.output_nodes) > 1 for p in _relu_partitions(graph))  # what the quantizer refused
    assert split_reused_modules(graph) == 1
    partitions = _relu_partitions(graph)
    assert len(partitions) == 2 and all(len(p.output_nodes) == 1 for p in partitions)


def test_pt2e_quantizes_a_residual_network_and_counts_its_qdq_nodes() -> None:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10, in_chans=3, input_size=32).eval()
    batches = [torch.randn(16, 3, 32, 32) for _ in range(2)]
    result = quantize_pt2e(model, batches, example_inputs=torch.randn(1, 3, 32, 32))
    assert result.quantize_nodes > 10 and result.dequantize_nodes > result.quantize_nodes
    assert count_qdq(result.model) == (result.quantize_nodes, result.dequantize_nodes)
    assert result.calibration_images == 32 and is_quantized_model(result.model)
    assert 0 < graph_size_mb(result.model) < 0.5  # int8 weights: about a quarter of fp32's ~1.07 MiB
    inputs = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        reference, quantized = model(inputs), result.model(inputs)  # one export serves any batch
    cosine = nn.functional.cosine_similarity(reference.flatten(), quantized.flatten(), dim=0)
    assert cosine > 0.95


def test_a_model_without_quantizable_layers_is_an_error() -> None:
    model = nn.Sequential(nn.ReLU(), nn.Flatten()).eval()
    with pytest.raises(BenchError, match="annotated nothing"):
        quantize_pt2e(model, [torch.randn(4, 3, 4, 4)], example_inputs=torch.randn(1, 3, 4, 4))


def test_without_torch_ao_fx_int8_comes_from_pt2e_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.ao.quantization.quantize_fx", None)  # import now fails
    assert not fx_available()
    model = create_model("lenet5", num_classes=10, in_chans=1, input_size=32).eval()
    built = apply_variant(model, "int8", example_inputs=torch.randn(2, 1, 32, 32), calib_images=32)
    assert built.quant is not None and built.quant.engine == PT2E_ENGINE
    assert is_quantized_model(built.model) and built.calibration == "32 random inputs"
    with torch.no_grad():
        assert built.model(torch.randn(3, 1, 32, 32)).shape == (3, 10)
