"""Model complexity: parameter counts, serialized size and multiply-accumulates (MACs).

The convention, used everywhere in cnnbench: MACs are counted per image at batch 1 in eval
mode, for convolutions and linear layers (matrix products) only, and FLOPs = 2 x MACs.
Batch norm, activations, pooling and additions are left out, as in torchvision's published
"GFLOPS" column (which counts multiply-accumulates). fvcore traces the model; every operator
it sees but does not count is returned in :attr:`MacCount.unsupported_ops` with its count,
never logged or printed (except the bookkeeping operators fvcore always ignores: view,
reshape, cat, relu, dropout and the like). ``torch.utils.flop_counter`` gives an independent cross-check
(:func:`count_macs_flop_counter`).

Quantized (torch.ao int8) models cannot be traced for MACs: their convolutions are packed
``quantized::`` kernels. An int8 model does the same multiply-accumulates as the float model
it was quantized from, so callers pass that float model to :func:`count_macs`;
:func:`count_macs` on a quantized model raises a :class:`~bench.errors.BenchError` saying so
rather than returning a misleading 0.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from bench.errors import BenchError

# fvcore operator names -> the handle (from fvcore.nn.jit_handles) that counts them.
# aten::linear covers nn.Linear; addmm/mm/matmul/bmm/einsum cover explicit matrix products.
_FVCORE_COUNTED_OPS: dict[str, str] = {
    "aten::_convolution": "conv_flop_jit",
    "aten::linear": "linear_flop_jit",
    "aten::addmm": "addmm_flop_jit",
    "aten::mm": "matmul_flop_jit",
    "aten::matmul": "matmul_flop_jit",
    "aten::bmm": "bmm_flop_jit",
    "aten::einsum": "einsum_flop_jit",
}

# torch.utils.flop_counter operators kept by the cross-check (convolutions and matrix products).
_FLOP_COUNTER_OPS = frozenset({"convolution", "_convolution", "mm", "addmm", "bmm"})

# Where torch.ao keeps the modules that run int8 kernels (reference modules are float: excluded).
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")

MIB = 2**20


@dataclass
class MacCount:
    """MACs per image, the operators left uncounted, and MACs per module name.

    ``by_module`` uses fvcore's attribution: every module, parents included, gets the MACs
    of the operators run inside its call ("" is the whole model).
    """

    macs: int
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    by_module: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass
class LayerInfo:
    """One row of a per-layer table (`bench summary`)."""

    layer: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


def is_quantized_model(model: nn.Module) -> bool:
    """True when ``model`` holds torch.ao modules running quantized (int8) kernels, or is a
    converted pt2e graph (quantize/dequantize ops of ``quantized_decomposed``)."""
    for module in model.modules():
        package = type(module).__module__
        if package.startswith(_QUANTIZED_PACKAGES) and ".reference" not in package:
            return True
    graph = getattr(model, "graph", None)
    nodes = getattr(graph, "nodes", ())
    return any(node.op == "call_function" and "quantized_decomposed" in str(node.target) for node in nodes)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's first parameter or buffer lives (the CPU for a model with none)."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts.

    Quantized modules keep their weights packed, outside ``parameters()``; their weight and
    bias elements are counted too (and are not trainable), so an int8 model reports the
    same total as its float original.
    """
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total + _packed_param_count(model), trainable


def _packed_param_count(model: nn.Module) -> int:
    count = 0
    for module in model.modules():
        if not type(module).__module__.startswith(_QUANTIZED_PACKAGES):
            continue
        for name in ("weight", "bias"):
            getter = getattr(type(module), name, None)
            if not callable(getter):  # a Parameter attribute: already in parameters()
                continue
            value = getter(module)
            if isinstance(value, torch.Tensor):
                count += value.numel()
    return count


def state_dict_size_mb(model: nn.Module) -> float:
    """Size of ``torch.save(model.state_dict())`` in MiB: what a checkpoint costs on disk."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / MIB


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; every module's own training flag restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def _eval_no_grad(model: nn.Module) -> Iterator[None]:
    with eval_mode(model), torch.no_grad():
        yield


@contextlib.contextmanager
def _quiet_fvcore() -> Iterator[None]:
    """Silence fvcore's logger and the warnings raised while importing it or tracing."""
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _reject_quantized(model: nn.Module, what: str) -> None:
    if is_quantized_model(model):
        raise BenchError(
            f"{what} cannot trace a quantized (int8) model: its packed kernels hide the MACs",
            "pass the float model it was quantized from (profile_model(..., macs_model=float_model)); "
            "int8 rows report the float model's MACs",
        )


def _example_input(input_shape: tuple[int, int, int], device: str | torch.device) -> torch.Tensor:
    if len(input_shape) != 3:
        raise BenchError(f"input shape must be (C, H, W), got {tuple(input_shape)}", "pass e.g. (3, 224, 224)")
    return torch.randn(1, *input_shape, device=device)


def count_macs(model: nn.Module, input_shape: tuple[int, int, int], *, device: str | torch.device = "cpu") -> MacCount:
    """MACs per image of ``model`` fed one ``input_shape`` (C, H, W) image.

    The model must already be on ``device`` (where the example input is made). Runs in eval
    mode under no_grad; the model's training flags are restored afterwards.
    """
    _reject_quantized(model, "count_macs")
    with _quiet_fvcore():
        from fvcore.nn import FlopCountAnalysis, jit_handles

        example = _example_input(input_shape, device)
        with _eval_no_grad(model):
            analysis = FlopCountAnalysis(model, (example,))
            analysis.clear_op_handles()
            analysis.set_op_handle(**{op: getattr(jit_handles, handle) for op, handle in _FVCORE_COUNTED_OPS.items()})
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            total = int(analysis.total())
            by_module = {name: int(n) for name, n in analysis.by_module().items()}
            unsupported = dict(sorted(analysis.unsupported_ops().items()))
    return MacCount(macs=total, unsupported_ops=unsupported, by_module=by_module)


def count_macs_flop_counter(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """MACs per image by ``torch.utils.flop_counter`` (convolutions and matrix products, halved).

    An independent count for testing :func:`count_macs`: it works on dispatched aten
    operators rather than a TorchScript trace.
    """
    from torch.utils.flop_counter import FlopCounterMode

    _reject_quantized(model, "count_macs_flop_counter")
    device = model_device(model)
    example = _example_input(input_shape, device)
    counter = FlopCounterMode(display=False)
    with _eval_no_grad(model), counter:
        model(example)
    counts = counter.get_flop_counts().get("Global", {})
    flops = sum(n for op, n in counts.items() if getattr(op, "__name__", str(op)) in _FLOP_COUNTER_OPS)
    return int(flops) // 2


def layer_table(
    model: nn.Module, input_shape: tuple[int, int, int], *, mac_count: MacCount | None = None
) -> list[LayerInfo]:
    """Leaf modules in execution order with output shape (batch 1), own params and MACs.

    A leaf called several times (a shared ReLU) appears once, at its first call, with the
    output shape of that call and the MACs of all its calls. ``mac_count`` reuses a
    :func:`count_macs` result for the same model and shape instead of tracing again.
    """
    macs = mac_count if mac_count is not None else count_macs(model, input_shape)
    device = model_device(model)
    shapes: dict[str, tuple[int, ...]] = {}
    order: list[str] = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            if name not in shapes:
                order.append(name)
                shapes[name] = _first_tensor_shape(output)

        return hook

    leaves = {name: m for name, m in model.named_modules() if name and not any(m.children())}
    handles = [m.register_forward_hook(hook_for(name)) for name, m in leaves.items()]
    try:
        with _eval_no_grad(model):
            model(_example_input(input_shape, device))
    finally:
        for handle in handles:
            handle.remove()
    return [
        LayerInfo(
            layer=name,
            type=type(leaves[name]).__name__,
            output_shape=shapes[name],
            params=sum(p.numel() for p in leaves[name].parameters()),
            macs=macs.by_module.get(name, 0),
        )
        for name in order
    ]


def _first_tensor_shape(output: object) -> tuple[int, ...]:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (list, tuple)):
        for item in output:
            shape = _first_tensor_shape(item)
            if shape:
                return shape
    return ()
