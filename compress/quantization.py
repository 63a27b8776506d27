"""int8 post-training static quantization (FX graph mode): the only module that uses torch.ao.

The recipe is PyTorch's: ``prepare_fx`` with the engine's default ``QConfigMapping``
(per-channel weights for x86/fbgemm/onednn), which fuses Conv-BN-ReLU in eval mode and
inserts observers; calibration in eval mode under ``no_grad`` on a fixed set of images;
``convert_fx`` to int8 kernels. int8 kernels run on the CPU, so the model is quantized on
the CPU. The quantized engine is set explicitly and left set: the packed weights belong to
that engine, so the model must run under it (``QuantResult.engine`` records it).

Models FX cannot trace as written are handled, not skipped: the smallest submodules that
fail to trace become non-traceable leaves (``prepare_custom_config``) and run in float
between quantized neighbours; ``QuantResult.float_leaves`` lists them.

Calibration and conversion are separate steps (:func:`calibrate_int8`, :func:`convert_int8`):
one calibrated model converts to any number of int8 models with chosen layers kept in float
(``QuantResult.float_layers``), which is what the accuracy-aware search of
:mod:`compress.sensitivity` (``--max-drop``) tries.

torch.ao.quantization is deprecated in torch 2.x and warns on every call; those warnings are
filtered here, around the calls. Replacing it by torchao's pt2e flow means rewriting this
module only, keeping its interface (:func:`quantize_int8`, :func:`calibrate_int8`, :func:`convert_int8`,
:func:`quantizable_layers`, :func:`save_quantized`,
:func:`load_quantized`, :func:`random_calibration_batches`): export with
``torch.export.export(model, example_inputs).module()``, ``prepare_pt2e`` with
``X86InductorQuantizer`` set to ``get_default_x86_inductor_quantization_config()``, the
same calibration loop, ``convert_pt2e``, and the count of quantized ops taken from the
exported graph's ``quantized_decomposed`` nodes.
"""

from __future__ import annotations

import contextlib
import copy
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from compress.checkpoint import read_payload, write_payload

SUPPORTED_ENGINES: tuple[str, ...] = ("x86", "fbgemm", "qnnpack", "onednn")
DEFAULT_ENGINE = "x86"
DEFAULT_CALIBRATION_IMAGES = 512
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")
_WEIGHTED_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)  # and prepare_fx's fusions of them
_SAVE_FORMAT = "cnnbench-int8"
_SAVE_VERSION = 1
# FX cannot give nested concatenations (Inception's branch cats, a max pool feeding a cat)
# one shared scale; quantized::cat then requantizes its inputs to the output scale and warns
# once per call site while the model runs. The cost shows in the int8 rows' accuracy.
_CAT_QPARAMS_WARNING = "All inputs of this cat operator must share the same quantization parameters"


@dataclass
class QuantResult:
    """The int8 model (on the CPU, eval mode) and what went into it."""

    model: nn.Module
    engine: str
    quantized_modules: int  # modules running int8 kernels (conv, linear, fused variants)
    quantized_ops: int  # int8 functional ops in the graph (e.g. residual additions)
    calibration_images: int
    float_leaves: tuple[str, ...] = ()  # submodules FX could not trace: they stay float
    float_layers: tuple[str, ...] = ()  # layers kept float on purpose (compress.sensitivity)


def fx_available() -> bool:
    """Whether torch.ao's FX quantization can be imported (its removal is being drafted
    upstream; without it :mod:`compress.apply` quantizes with pt2e and the rows say so)."""
    try:
        import torch.ao.quantization.quantize_fx  # noqa: F401
    except ImportError:
        return False
    return True


def check_engine(engine: str) -> str:
    """The engine name if this torch build supports it, else a one-line error."""
    available = [e for e in SUPPORTED_ENGINES if e in torch.backends.quantized.supported_engines]
    if engine not in available:
        raise BenchError(
            f"quantized engine {engine!r} is not supported by this torch build",
            f"use one of {', '.join(available)}",
        )
    return engine


def random_calibration_batches(
    input_shape: tuple[int, ...], n: int = DEFAULT_CALIBRATION_IMAGES, batch_size: int = 32, seed: int = 0
) -> list[torch.Tensor]:
    """``n`` seeded standard-normal images of ``input_shape`` (C, H, W), in batches: calibration
    for speed-only runs without data (the rows say so)."""
    if n < 1 or batch_size < 1:
        raise BenchError(f"need at least one calibration image and batch, got {n} and {batch_size}", "pass n >= 1")
    generator = torch.Generator().manual_seed(seed)
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    return [torch.randn(size, *input_shape, generator=generator) for size in sizes]


@dataclass
class Calibrated:
    """A copy of a float model prepared for int8 (fused, observers inserted) and calibrated:
    :func:`convert_int8` turns it into int8 kernels, with any of its layers kept in float,
    as often as needed without calibrating again (the accuracy-aware search relies on it)."""

    prepared: nn.Module
    engine: str
    example: torch.Tensor
    float_leaves: tuple[str, ...]
    calibration_images: int


def calibrate_int8(
    model: nn.Module,
    calib_batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]],
    *,
    engine: str = DEFAULT_ENGINE,
    example_inputs: torch.Tensor | None = None,
) -> Calibrated:
    """Prepare a copy of ``model`` (left unchanged) with the engine's default qconfig mapping
    and run ``calib_batches`` through its observers. Batches may be tensors or (inputs,
    labels, ...) pairs; only inputs are used."""
    check_engine(engine)
    torch.backends.quantized.engine = engine
    float_model = copy.deepcopy(model).cpu().eval()
    batches = [_inputs_of(batch).cpu() for batch in calib_batches]
    if not batches:
        raise BenchError("no calibration batches for int8 quantization", "pass calibration images (default 512)")
    example = (example_inputs if example_inputs is not None else batches[0][:1]).cpu()
    with quiet_torch_warnings():
        leaves = _untraceable_leaves(float_model)
        prepared = _prepare(float_model, engine, example, leaves)
        with torch.no_grad():
            for batch in batches:
                prepared(batch)
    return Calibrated(prepared, engine, example, tuple(leaves), sum(len(b) for b in batches))


def convert_int8(calibrated: Calibrated, float_layers: Iterable[str] = ()) -> QuantResult:
    """The int8 model of ``calibrated`` (which stays usable), with ``float_layers`` (names from
    :func:`quantizable_layers`) left in float. Raises a BenchError when a full int8 model
    has nothing quantized."""
    kept = tuple(float_layers)
    unknown = sorted(set(kept) - set(quantizable_layers(calibrated)))
    if unknown:
        raise BenchError(f"not quantizable layers of this model: {', '.join(unknown)}", "name conv or linear layers")
    torch.backends.quantized.engine = calibrated.engine
    with quiet_torch_warnings():
        quantized = _convert(copy.deepcopy(calibrated.prepared), calibrated.engine, kept)
    _ignore_cat_requantize_warning()
    modules, ops = count_quantized(quantized)
    if modules + ops == 0 and not kept:
        raise BenchError(
            "int8 quantization found nothing quantizable in this model: no layer or op got an int8 kernel",
            "quantize a CNN with convolutions or linear layers, or use --quantize none",
        )
    leaves = list(calibrated.float_leaves)
    quantized.cnnbench_int8 = {"engine": calibrated.engine, "float_leaves": leaves, "float_layers": list(kept)}
    return QuantResult(
        model=quantized,
        engine=calibrated.engine,
        quantized_modules=modules,
        quantized_ops=ops,
        calibration_images=calibrated.calibration_images,
        float_leaves=calibrated.float_leaves,
        float_layers=kept,
    )


def quantize_int8(
    model: nn.Module,
    calib_batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]],
    *,
    engine: str = DEFAULT_ENGINE,
    example_inputs: torch.Tensor | None = None,
) -> QuantResult:
    """A quantized copy of ``model`` (left unchanged), calibrated on ``calib_batches``, every
    quantizable layer in int8 (:func:`calibrate_int8`, then :func:`convert_int8`)."""
    return convert_int8(calibrate_int8(model, calib_batches, engine=engine, example_inputs=example_inputs))


def quantizable_layers(calibrated: Calibrated) -> tuple[str, ...]:
    """The layers int8 kernels replace (convolutions and linear layers, fused or not), by
    qualified name in graph order: what an accuracy-aware search may keep in float."""
    prepared = calibrated.prepared
    modules = dict(prepared.named_modules())
    names = [
        str(node.target)
        for node in prepared.graph.nodes
        if node.op == "call_module"
        and _is_weighted(modules.get(str(node.target)))
        and getattr(modules[str(node.target)], "qconfig", None) is not None
    ]
    return tuple(dict.fromkeys(names))


def _is_weighted(module: nn.Module | None) -> bool:
    """A conv or linear layer, or prepare_fx's fusion of one (ConvReLU2d, LinearReLU: Sequentials)."""
    if isinstance(module, _WEIGHTED_LAYERS):
        return True
    fused = isinstance(module, nn.Sequential) and type(module).__module__.startswith("torch.ao.nn.intrinsic")
    return fused and len(module) > 0 and isinstance(module[0], _WEIGHTED_LAYERS)


def count_quantized(model: nn.Module) -> tuple[int, int]:
    """(modules running int8 kernels, int8 functional ops in the FX graph)."""
    modules = sum(
        1
        for m in model.modules()
        if type(m).__module__.startswith(_QUANTIZED_PACKAGES)
        and ".reference" not in type(m).__module__
        and not type(m).__name__.endswith("PackedParams")  # weight holders inside quantized Linear
    )
    graph = getattr(model, "graph", None)
    ops = 0
    if graph is not None:
        ops = sum(1 for node in graph.nodes if node.op == "call_function" and str(node.target).startswith("quantized."))
    return modules, ops


def save_quantized(qmodel: nn.Module, path: str | Path) -> Path:
    """Write the int8 model's state dict and the config it was built with (plain data)."""
    meta = getattr(qmodel, "cnnbench_int8", None)
    if meta is None:
        raise BenchError(
            "this model was not made by quantize_int8", "quantize it with compress.quantization.quantize_int8"
        )
    return write_payload(path, _SAVE_FORMAT, _SAVE_VERSION, {**meta, "state_dict": qmodel.state_dict()})


def load_quantized(
    path: str | Path, float_model: nn.Module, example_inputs: torch.Tensor, engine: str | None = None
) -> nn.Module:
    """Rebuild the int8 model from ``float_model`` (the architecture it was quantized from)
    with the saved engine and leaves, then load its scales, zero points and int8 weights."""
    payload = read_payload(path, _SAVE_FORMAT, what="int8 model", saver="compress.quantization.save_quantized")
    saved_engine = payload["engine"]
    if engine is not None and engine != saved_engine:
        raise BenchError(
            f"{path} was quantized for the {saved_engine} engine, not {engine}",
            f"load it with engine={saved_engine!r} or quantize again",
        )
    torch.backends.quantized.engine = check_engine(saved_engine)
    leaves = list(payload["float_leaves"])
    kept = tuple(payload.get("float_layers", ()))  # files written before the accuracy-aware search have none
    with quiet_torch_warnings():
        prepared = _prepare(copy.deepcopy(float_model).cpu().eval(), saved_engine, example_inputs.cpu(), leaves)
        rebuilt = _convert(prepared, saved_engine, kept)
    _ignore_cat_requantize_warning()
    saved_state = payload["state_dict"]
    # Quantized modules load packed weights without checking shapes: compare them first.
    mismatched = sorted(set(_tensor_shapes(saved_state).items()) ^ set(_tensor_shapes(rebuilt.state_dict()).items()))
    if mismatched:
        raise BenchError(
            f"{path} does not fit this model: {mismatched[0][0]} differs",
            "pass the float model it was quantized from (for pruned+int8, the pruned model)",
        )
    rebuilt.load_state_dict(saved_state, strict=True)
    rebuilt.cnnbench_int8 = {"engine": saved_engine, "float_leaves": leaves, "float_layers": list(kept)}
    return rebuilt


def _prepare(model: nn.Module, engine: str, example: torch.Tensor, leaves: list[str] | tuple[str, ...]) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
    from torch.ao.quantization.quantize_fx import prepare_fx

    custom = PrepareCustomConfig().set_non_traceable_module_names(list(leaves))
    return prepare_fx(model, get_default_qconfig_mapping(engine), (example,), prepare_custom_config=custom)


def _convert(prepared: nn.Module, engine: str, float_layers: tuple[str, ...] = ()) -> nn.Module:
    """convert_fx with ``float_layers`` skipped: its mapping is prepare's with those set to None
    (convert_fx's documented way to leave calibrated entries in float)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx

    if not float_layers:
        return convert_fx(prepared)
    mapping = get_default_qconfig_mapping(engine)
    for name in float_layers:
        mapping.set_module_name(name, None)
    return convert_fx(prepared, qconfig_mapping=mapping)


def _untraceable_leaves(model: nn.Module) -> list[str]:
    """Qualified names of the smallest submodules FX must treat as leaves to trace ``model``."""
    from torch.ao.quantization.fx.tracer import QuantizationTracer

    class LeafTracer(QuantizationTracer):
        def __init__(self, leaf_modules: set[nn.Module]) -> None:
            super().__init__([], [])
            self.leaf_modules = leaf_modules
            self.record_stack_traces = False  # only whether it traces matters here; much faster

        def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
            return m in self.leaf_modules or super().is_leaf_module(m, module_qualified_name)

    def traces(module: nn.Module, leaf_modules: set[nn.Module]) -> bool:
        try:
            LeafTracer(leaf_modules).trace(module)
        except Exception:  # any tracing failure (TraceError, TypeError, ...) means "not as is"
            return False
        return True

    def needed(module: nn.Module) -> set[nn.Module]:
        if traces(module, set()):
            return set()
        found: set[nn.Module] = set()
        for child in module.children():
            if not LeafTracer(set()).is_leaf_module(child, ""):
                found |= needed(child)
        return found if traces(module, found) else {module}

    leaf_modules = needed(model)
    if model in leaf_modules:
        raise BenchError(
            f"FX cannot trace {type(model).__name__}.forward itself (Python control flow on tensors?)",
            "build the model for inference (no data-dependent branches in its top-level forward)",
        )
    return sorted(name for name, m in model.named_modules() if m in leaf_modules)


def _tensor_shapes(state: dict[str, Any]) -> dict[str, tuple]:
    """Key -> shapes of the tensors under it (packed linear weights are a (weight, bias) tuple)."""

    def shapes(value: Any) -> tuple:
        if isinstance(value, torch.Tensor):
            return (tuple(value.shape),)
        if isinstance(value, (tuple, list)):
            return tuple(s for item in value for s in shapes(item))
        return ()

    return {key: shapes(value) for key, value in state.items()}


def _inputs_of(batch: Any) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise BenchError(
        f"a calibration batch must be a tensor or (inputs, labels), got {type(batch).__name__}", "pass image tensors"
    )


def _ignore_cat_requantize_warning() -> None:
    """Process-wide and for this one message only: it fires while the int8 model runs."""
    warnings.filterwarnings("ignore", message=re.escape(_CAT_QPARAMS_WARNING), category=UserWarning)


@contextlib.contextmanager
def quiet_torch_warnings(module: str = r"torch\.ao") -> Iterator[None]:
    """Filter deprecation notices, and the UserWarnings of modules matching ``module`` (torch.ao's
    observer chatter by default), around the calls that raise them on every use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
        yield
