"""The memory a model needs at a shape, estimated before anything is allocated.

A shape from a slip of the keyboard (``--input-size 100000``, ``--batch-sizes 10000000``) is
refused with exit 2 before the allocator is asked for terabytes. The model is built and run
on the meta device (shapes only: no memory, and instant at any size) with a hook on every
leaf module, which records per image the bytes of what the layer reads and writes. Then:

- inference (`bench profile`, the timed batches of `bench run`): the weights, plus per image
  the largest input and output of one layer, which must both exist at once;
- training: weights, their gradients and one optimizer state, plus per image every layer's
  output, which autograd keeps for the backward pass.

Workspaces, allocator slack and the framework itself are left out, so the figures err low: a
refusal is no false alarm, and a shape that passes can still fail to allocate. Such a failure
is recognised by :func:`is_out_of_memory` and reported as the same kind of one-line error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psutil
import torch
from torch import nn

from bench.errors import BenchError
from bench.zoo import create_model
from bench.zoo.structure import structure_only

GIB = 1024**3
_FLOAT_BYTES = 4  # the meta trace runs in float32
# Bytes per activation value under each precision (autocast keeps a few ops in float32: ignored).
ACTIVATION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1}
_OPTIMIZER_COPIES = 3  # weights, gradients and one optimizer state (SGD momentum; AdamW keeps two)


@dataclass(frozen=True)
class MemoryFootprint:
    """Bytes a model needs: ``weights`` once, the rest per image (float32 activations)."""

    weights: int
    input: int  # one input image
    layer_peak: int  # the largest input + output of a single layer
    activations: int  # every layer's output, kept for the backward pass

    def inference(self, batch_size: int, *, activation_bytes: int = _FLOAT_BYTES) -> int:
        """A forward pass at ``batch_size`` with activations of ``activation_bytes`` per value
        (2 under fp16/bf16 autocast, 1 for int8)."""
        return self.weights + batch_size * (self.input + self.layer_peak * activation_bytes // _FLOAT_BYTES)

    def training(self, batch_size: int) -> int:
        """A training step at ``batch_size`` (float32)."""
        return _OPTIMIZER_COPIES * self.weights + batch_size * (self.input + self.activations)


def footprint(model: nn.Module, input_shape: tuple[int, ...]) -> MemoryFootprint | None:
    """Trace ``model`` (moved to the meta device: pass a throwaway) on one ``input_shape`` image;
    None when the model cannot run on the meta device (then no estimate is made)."""
    model = model.to("meta").eval()
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    seen = {"peak": 0, "outputs": 0}

    def record(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        ins = [t for t in inputs if isinstance(t, torch.Tensor)]
        outs = [
            t for t in _tensors(output) if not any(t is i for i in ins) and t._base is None
        ]  # no in-place, no views
        read = sum(_bytes(t) for t in ins)
        written = sum(_bytes(t) for t in outs)
        seen["peak"] = max(seen["peak"], read + written)
        seen["outputs"] += written

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    example = torch.empty(1, *input_shape, device="meta")
    try:
        with torch.no_grad():
            model(example)
    except Exception:  # an operator without a meta kernel: no estimate rather than a false one
        return None
    finally:
        for handle in handles:
            handle.remove()
    return MemoryFootprint(weights, _bytes(example), seen["peak"], seen["outputs"])


def model_footprint(
    name: str, *, in_chans: int, input_size: int, num_classes: int, **build: Any
) -> tuple[tuple[int, ...], MemoryFootprint | None]:
    """The (C, H, W) the zoo's ``name`` is fed at ``input_size`` and its footprint there, built
    on the meta device (so even absurd sizes cost nothing); ``build`` goes to ``create_model``."""
    model = structure_only(
        lambda: create_model(name, num_classes=num_classes, in_chans=in_chans, input_size=input_size, **build)
    )
    shape = tuple(model.bench_cfg.input_size)
    return shape, footprint(model, shape)


def free_memory(device: torch.device) -> int:
    """Bytes free for tensors on ``device``: the GPU's free memory, or the machine's available RAM."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return psutil.virtual_memory().available


def where(device: torch.device) -> str:
    return str(device) if device.type == "cuda" else "this machine"


def require_memory(needed: int, device: torch.device, *, what: str, fix: str) -> None:
    """Refuse (BenchError) when ``what`` needs more than ``device`` has free."""
    free = free_memory(device)
    if needed > free:
        raise BenchError(f"{what} needs ~{gib(needed)} GiB, {where(device)} has {gib(free)} GiB free", fix)


def check_model_fits(
    name: str,
    *,
    in_chans: int,
    input_size: int,
    num_classes: int,
    device: torch.device,
    fix: str,
    infer_batch: int | None = None,
    train_batch: int | None = None,
    precision: str = "fp32",
    **build: Any,
) -> None:
    """Refuse a model whose training step (at ``train_batch``) or forward pass (at ``infer_batch``,
    in ``precision``) cannot fit on ``device``; models the meta trace cannot run pass unchecked."""
    shape, needs = model_footprint(name, in_chans=in_chans, input_size=input_size, num_classes=num_classes, **build)
    if needs is None:
        return
    at = "x".join(str(s) for s in shape)
    if train_batch is not None:
        what = f"training {name} at {at}, batch {train_batch},"
        require_memory(needs.training(train_batch), device, what=what, fix=fix)
    if infer_batch is not None:
        what = f"{name} at {at}, batch {infer_batch},"
        needed = needs.inference(infer_batch, activation_bytes=ACTIVATION_BYTES.get(precision, _FLOAT_BYTES))
        require_memory(needed, device, what=what, fix=fix)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an allocator failure: CUDA out of memory, or the CPU allocator's RuntimeError."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "not enough memory" in text)


def out_of_memory_error(exc: BaseException, fix: str) -> BenchError:
    """The one-line error of an allocation failure :func:`is_out_of_memory` recognised."""
    text = " ".join(str(exc).split())
    cuda = isinstance(exc, torch.OutOfMemoryError) and "CUDA" in text
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    tried = re.search(r"allocate (\d+) bytes", text)
    if tried:
        size = f"~{gib(int(tried.group(1)))} GiB"
    else:
        found = re.search(r"allocate ([\d.]+ [KMGT]iB)", text)
        size = found.group(1) if found else "more memory"
    free = gib(free_memory(device))
    return BenchError(f"out of memory: an allocation of {size} failed, {where(device)} has {free} GiB free", fix)


def gib(size: int) -> str:
    """Bytes as GiB for messages: ``'0.25'``, ``'4,470,348.4'``."""
    value = size / GIB
    return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()
