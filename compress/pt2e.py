"""int8 through torchao's pt2e flow: the successor of FX graph mode quantization.

The recipe is torchao's X86 Inductor one: ``torch.export`` the float model, annotate it with
``X86InductorQuantizer`` (static, per-channel weights, the default config), insert observers
(``prepare_pt2e``), calibrate on the same images FX uses, ``convert_pt2e`` to
quantize/dequantize pairs, and let ``torch.compile`` with freezing lower those pairs to int8
kernels (:mod:`compress.runtimes.compiled`). Run without compiling, the converted graph is a
*reference* int8 model: the numerics of int8, the speed of float plus the q/dq ops.

Why the quantizer failed on residual blocks (``ValueError: Input partition has more than one
output node``, torch 2.14 / torchao 0.18): a non-strict export leaves ``source_fn_stack``
empty, so ``get_source_partitions`` falls back to each node's ``nn_module_stack`` and groups
nodes by module name. torchvision's ResNet blocks call one ``self.relu`` module twice, so both
calls land in one "partition" with two outputs, and the conv+add+relu fusion annotator
refuses it. Two fixes, in order: a strict export (Dynamo fills ``source_fn_stack`` with one
name per call), or, when strict export cannot trace the model, :func:`split_reused_modules`
gives each call of a reused leaf module its own source entry. The second is the fix worth
sending upstream (the fallback should split partitions per call, not per module).

A quantizer that silently inserts nothing is a known upstream failure mode, so the converted
graph's quantize/dequantize nodes are counted and none is an error.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from compress.quantization import quiet_torch_warnings

PT2E_ENGINE = "pt2e-x86-inductor"  # what the rows' quant_engine says for this flow
_QDQ_PACKAGE = "quantized_decomposed"


@dataclass
class Pt2eResult:
    """The converted (reference int8) graph and what went into it."""

    model: torch.fx.GraphModule
    quantize_nodes: int
    dequantize_nodes: int
    calibration_images: int
    strict_export: bool
    seconds: float


def pt2e_available() -> str | None:
    """None when torchao's pt2e flow can be imported, else why not (one line)."""
    try:
        _quantizer()
    except ImportError as exc:
        return f"torchao pt2e is not importable ({exc}); pip install torchao"
    return None


def quantize_pt2e(
    model: nn.Module, calib_batches: Iterable[torch.Tensor], *, example_inputs: torch.Tensor
) -> Pt2eResult:
    """A pt2e int8 copy of ``model`` (left unchanged), calibrated on ``calib_batches``.

    The graph is exported with a dynamic batch dimension, so one conversion serves every
    batch size; ``example_inputs`` fixes the rest of the input shape.
    """
    start = time.perf_counter()
    prepare_pt2e, convert_pt2e, quantizer = _quantizer()
    float_model = copy.deepcopy(model).cpu().eval()
    batches = [batch.cpu() for batch in calib_batches]
    if not batches:
        raise BenchError("no calibration batches for pt2e int8", "pass calibration images (default 512)")
    with quiet_torch_warnings(r"torch(ao)?\."):  # export and torchao warn on every call
        graph, strict = export_graph(float_model, example_inputs.cpu())
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for batch in batches:
                prepared(batch)
        converted = convert_pt2e(prepared)
    quantize, dequantize = count_qdq(converted)
    if quantize == 0 or dequantize == 0:
        raise BenchError(
            f"pt2e inserted {quantize} quantize and {dequantize} dequantize nodes: the quantizer annotated nothing",
            "quantize a CNN with convolutions or linear layers, or use --quantize none",
        )
    return Pt2eResult(
        converted, quantize, dequantize, sum(len(b) for b in batches), strict, time.perf_counter() - start
    )


def export_graph(model: nn.Module, example: torch.Tensor) -> tuple[torch.fx.GraphModule, bool]:
    """``model`` as an exported GraphModule with a dynamic batch, and whether export was strict."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    example = example[:1].expand(2, *example.shape[1:]).contiguous()  # batch 1 would specialize
    try:
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},), strict=True)
        return program.module(), True
    except Exception:  # Dynamo cannot trace every model strictly: fall back, then repair (module doc)
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},), strict=False)
        graph = program.module()
        split_reused_modules(graph)
        return graph, False


def split_reused_modules(graph: torch.fx.GraphModule) -> int:
    """Give every call of a reused leaf module its own ``source_fn_stack`` entry; returns how
    many calls were told apart. Nodes are one call when they are connected (a node whose
    inputs include an earlier node of the same module continues that call)."""
    calls: dict[str, tuple[int, set[torch.fx.Node]]] = {}
    split = 0
    for node in graph.graph.nodes:
        if node.op != "call_function" or node.meta.get("source_fn_stack"):
            continue
        stack = node.meta.get("nn_module_stack")
        if not stack:
            continue
        fqn, cls = list(stack.values())[-1]
        module_type = _resolve(cls)
        if module_type is None or not module_type.__module__.startswith("torch.nn"):
            continue  # only torch's leaf modules are matched by type
        index, members = calls.get(fqn, (-1, set()))
        if not any(isinstance(arg, torch.fx.Node) and arg in members for arg in node.all_input_nodes):
            index, members = index + 1, set()
            split += index > 0
        members.add(node)
        calls[fqn] = (index, members)
        node.meta["source_fn_stack"] = [(f"{fqn}#{index}", module_type)]
    return split


def graph_size_mb(graph: torch.fx.GraphModule) -> float:
    """MiB of the tensors the converted graph holds (int8 weights, scales, float biases): its
    size on disk, which ``state_dict`` misses for folded constants."""
    seen: set[int] = set()
    total = 0
    for node in graph.graph.nodes:
        if node.op != "get_attr":
            continue
        value = graph
        for part in str(node.target).split("."):
            value = getattr(value, part)
        if isinstance(value, torch.Tensor) and id(value) not in seen:
            seen.add(id(value))
            total += value.numel() * value.element_size()
    return total / (1 << 20)


def count_qdq(graph: torch.fx.GraphModule) -> tuple[int, int]:
    """(quantize nodes, dequantize nodes) of a converted pt2e graph."""
    quantize = dequantize = 0
    for node in graph.graph.nodes:
        target = str(node.target)
        if node.op != "call_function" or _QDQ_PACKAGE not in target:
            continue
        if ".quantize_per" in target:
            quantize += 1
        elif ".dequantize_per" in target:
            dequantize += 1
    return quantize, dequantize


def _resolve(cls: Any) -> type | None:
    """The class of an ``nn_module_stack`` entry (a type, or its dotted name)."""
    if isinstance(cls, type):
        return cls
    if not isinstance(cls, str) or "." not in cls:
        return None
    module_name, _, name = cls.rpartition(".")
    import importlib

    try:
        found = getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        return None
    return found if isinstance(found, type) else None


def _quantizer() -> tuple[Any, Any, Any]:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config())
    return prepare_pt2e, convert_pt2e, quantizer
