"""Structured channel pruning over torch-pruning's dependency graph.

torch-pruning traces the model into a :class:`~torch_pruning.DependencyGraph` whose groups
are the sets of layers that must lose the same channels together (a convolution, its batch
norm, the next layer's inputs, both sides of a residual addition, the slice of a
concatenation). This module traces the graph, protects the output layers, scores each
group with a named criterion (:mod:`compress.importance`) and lets
:mod:`compress.channel_selection` decide and remove each group's channels.

Choices, and why:

* **Ratio** = fraction of channels removed from every prunable layer (torch-pruning's
  ``pruning_ratio``); with ``global_pruning`` one threshold over all normalized scores
  decides instead, so layers lose different fractions (never all their channels).
* **Rounding**: odd widths run slowly, so the channels kept are rounded (half up) to a
  multiple of ``round_to`` (default 8). A layer whose exact share is narrower than
  ``round_to`` (LeNet-5's 6-channel C1 keeps 3 at ratio 0.5) keeps that exact count instead:
  rounding up to 8 would not prune it at all, rounding down would remove it. Grouped
  convolutions (ResNeXt) lose the same channels in every group, and the kept width stays a
  multiple of the group count; torch-pruning's own ``round_to`` mixes per-group and total
  counts there and leaves ResNeXt's grouped blocks unpruned, hence cnnbench's own
  selection loop over torch-pruning's graph (its ``BasePruner`` is not used).
* **Protected layers**: the classifier (the zoo's ``ModelSpec.classifier`` plus the last
  convolution or linear layer the forward pass runs), auxiliary heads (modules named
  ``aux*``) and any ``ignored_layers`` keep their output channels; their inputs follow the
  pruned layers before them. The output shapes are checked to be unchanged.
* **Tracing mode**: the graph is traced in train mode, so auxiliary heads and every
  training branch are in it and get their inputs pruned too; batch-norm statistics and
  training flags are restored afterwards (:func:`compress.model_state.preserved_state`).

:func:`prune_model` prunes **in place** (copy the model first to keep the original).
Pruned models are saved as plain tensors and integers (:func:`save_pruned`) and rebuilt on
a freshly built base model (:func:`load_pruned`), readable with ``weights_only=True``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.zoo import get_model_spec
from compress.channel_selection import PRUNABLE_ROOTS, ScoredGroup, keep_lowest_removed, prune_groups, score_groups
from compress.checkpoint import read_payload, write_payload
from compress.importance import DEFAULT_CRITERION, get_criterion
from compress.model_state import (
    batch_of_two,
    macs_per_image,
    output_tensors,
    param_count,
    preserved_state,
)
from compress.tp_import import tp
from compress.variants import check_ratio

DEFAULT_ROUND_TO = 8
_SAVE_FORMAT = "cnnbench-pruned"
_SAVE_VERSION = 1
_LOAD_FIX = "load it onto the architecture it was pruned from, built the same way"
# Module attributes that describe widths; save_pruned records them, load_pruned sets them.
_WIDTH_ATTRS = (
    "in_channels",
    "out_channels",
    "groups",
    "in_features",
    "out_features",
    "num_features",
    "num_channels",
    "num_groups",
    "normalized_shape",
)


@dataclass(frozen=True)
class LayerWidth:
    """Output channels of one convolution or linear layer before and after pruning."""

    name: str
    before: int
    after: int


@dataclass
class PruneResult:
    """What pruning did: the (same, now pruned) model and the before/after counts."""

    model: nn.Module
    ratio: float
    criterion: str
    global_pruning: bool
    round_to: int | None
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    widths: tuple[LayerWidth, ...]
    protected: tuple[str, ...]
    groups_pruned: int
    groups_unscored: int  # groups the criterion had no score for (e.g. bn-scale without BN)

    @property
    def macs_fraction(self) -> float:
        return self.macs_after / self.macs_before

    @property
    def params_fraction(self) -> float:
        return self.params_after / self.params_before


def prune_model(
    model: nn.Module,
    *,
    ratio: float,
    example_inputs: torch.Tensor,
    criterion: str = DEFAULT_CRITERION,
    global_pruning: bool = False,
    round_to: int | None = DEFAULT_ROUND_TO,
    ignored_layers: Iterable[str | nn.Module] | None = None,
    grad_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    seed: int = 0,
) -> PruneResult:
    """Remove ``ratio`` of the channels of every prunable layer of ``model``, in place.

    ``example_inputs`` is a batch the model accepts (its shape also gives the MAC count's
    input size). ``grad_batches`` are (inputs, labels) pairs for criteria that need a loss
    gradient (``taylor``); random inputs and labels are used when none are given.
    """
    check_ratio(ratio, source=f"pruning ratio {ratio}")
    if round_to is not None and round_to < 1:
        raise BenchError(f"round_to must be a positive channel count, got {round_to}", "use 8, or None")
    chosen = get_criterion(criterion)
    inputs = batch_of_two(example_inputs)
    input_shape = tuple(example_inputs.shape[1:])
    params_before, macs_before = param_count(model), macs_per_image(model, input_shape)
    widths_before = _widths(model)

    graph, last_layer, shapes_before = _trace(model, inputs)
    protected = _protected_names(model, last_layer, ignored_layers)
    if chosen.needs_batches:
        batches = grad_batches if grad_batches is not None else _random_batches(model, inputs, seed)
        with preserved_state(model, train=True):
            chosen.prepare(model, batches)
    ignored = [sub for name in protected for sub in model.get_submodule(name).modules()]
    try:
        candidates, unscored = score_groups(graph, chosen.scorer(seed=seed), ignored)
        if not candidates:
            raise BenchError(
                f"the {chosen.name} criterion found no prunable channels in this model",
                "choose another criterion such as l1 (bn-scale needs batch-norm layers)",
            )
        pruned = prune_groups(graph, candidates, ratio, global_pruning, round_to)
    except (IndexError, RuntimeError, ValueError) as exc:  # an index map torch-pruning got wrong
        raise _cannot_follow(exc) from None
    if chosen.needs_batches:
        model.zero_grad(set_to_none=True)

    _check_outputs(model, inputs, shapes_before)
    return PruneResult(
        model=model,
        ratio=ratio,
        criterion=chosen.name,
        global_pruning=global_pruning,
        round_to=round_to,
        params_before=params_before,
        params_after=param_count(model),
        macs_before=macs_before,
        macs_after=macs_per_image(model, input_shape),
        widths=tuple(
            LayerWidth(name, before, _out_width(model.get_submodule(name))) for name, before in widths_before.items()
        ),
        protected=tuple(protected),
        groups_pruned=pruned,
        groups_unscored=unscored,
    )


def save_pruned(model: nn.Module, path: str | Path) -> Path:
    """Write the pruned model's widths and state dict: plain data, safe to load."""
    widths = {
        name: {attr: _plain(getattr(module, attr)) for attr in _WIDTH_ATTRS if hasattr(module, attr)}
        for name, module in model.named_modules()
    }
    payload = {"widths": {name: attrs for name, attrs in widths.items() if attrs}, "state_dict": model.state_dict()}
    return write_payload(path, _SAVE_FORMAT, _SAVE_VERSION, payload)


def load_pruned(path: str | Path, base_model: nn.Module) -> nn.Module:
    """Reshape ``base_model`` (built like the model before pruning) to the saved widths and weights.

    ``base_model`` is changed in place and returned. Only tensors and plain values are read
    (``weights_only=True``); a file for another architecture fails the strict state-dict load.
    """
    payload = read_payload(path, _SAVE_FORMAT, what="pruned model", saver="compress.pruning.save_pruned")
    for name, attrs in payload["widths"].items():
        module = _submodule(base_model, name, f"{path} does not fit this model", _LOAD_FIX)
        for attr, value in attrs.items():
            setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    state = payload["state_dict"]
    for key, tensor in state.items():
        owner_name, _, leaf = key.rpartition(".")
        owner = _submodule(base_model, owner_name, f"{path} does not fit this model", _LOAD_FIX)
        current = getattr(owner, leaf, None)
        if isinstance(current, torch.Tensor) and current.shape != tensor.shape:
            resized = torch.empty(tensor.shape, dtype=current.dtype, device=current.device)
            if isinstance(current, nn.Parameter):
                setattr(owner, leaf, nn.Parameter(resized, requires_grad=current.requires_grad))
            else:
                setattr(owner, leaf, resized)  # a registered buffer: setattr keeps it registered
    try:
        base_model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BenchError(
            f"{path} does not fit this model: {str(exc).splitlines()[0]}",
            _LOAD_FIX,
        ) from None
    return base_model


def _trace(model: nn.Module, inputs: torch.Tensor) -> tuple[Any, str, list[tuple[int, ...]]]:
    """The dependency graph traced in train mode, the last conv/linear layer the forward
    ran, and the shapes of the outputs."""
    names = {module: name for name, module in model.named_modules()}
    executed: list[str] = []
    hooks = [
        module.register_forward_hook(lambda m, _i, _o: executed.append(names[m]))
        for module in model.modules()
        if isinstance(module, PRUNABLE_ROOTS)
    ]

    shapes: list[tuple[int, ...]] = []

    def forward_in_train_mode(net: nn.Module, batch: torch.Tensor) -> Any:
        net.train()  # torch-pruning switches to eval before calling this
        outputs = net(batch)
        shapes.extend(tuple(t.shape) for t in output_tensors(outputs))
        return outputs

    try:
        with preserved_state(model):
            graph = tp.DependencyGraph().build_dependency(
                model,
                example_inputs=inputs,
                forward_fn=forward_in_train_mode,
                output_transform=output_tensors,
            )
    finally:
        for hook in hooks:
            hook.remove()
    if not executed:
        raise BenchError("the model has no convolution or linear layer to prune", "pick a CNN model")
    return graph, executed[-1], shapes


def _check_outputs(model: nn.Module, inputs: torch.Tensor, expected: list[tuple[int, ...]]) -> None:
    """The pruned model must run in train mode and give outputs of the original shapes."""
    try:
        with preserved_state(model, train=True), torch.no_grad():
            shapes = [tuple(t.shape) for t in output_tensors(model(inputs))]
    except RuntimeError as exc:
        raise _cannot_follow(exc) from None
    if shapes != expected:
        raise BenchError(
            f"pruning changed the model's output shapes from {expected} to {shapes}",
            "name the output layers in the model's ModelSpec.classifier or pass ignored_layers",
        )


def _cannot_follow(exc: Exception) -> BenchError:
    """The error for a model with an operation torch-pruning's dependency graph cannot follow."""
    return BenchError(
        f"cannot prune this model ({str(exc).splitlines()[0]}): an operation such as F.pad on "
        "channels hides from torch-pruning how its channels connect (the model may be left half-pruned)",
        "express it with torch.cat or modules, or pass its layers as ignored_layers",
    )


def _protected_names(model: nn.Module, last_layer: str, ignored_layers: Iterable[str | nn.Module] | None) -> list[str]:
    """Layers whose output channels stay: classifier(s), aux heads, ``ignored_layers``."""
    names = {last_layer}
    config = getattr(model, "bench_cfg", None)
    if config is not None:
        names.update(get_model_spec(config.name).classifier)
    module_names = {module: name for name, module in model.named_modules()}
    for name in module_names.values():
        if name.rpartition(".")[2].lower().startswith("aux"):
            names.add(name)
    for layer in ignored_layers or ():
        if isinstance(layer, nn.Module):
            if layer not in module_names:
                raise BenchError("an ignored layer is not part of the model", "pass its modules or names")
            names.add(module_names[layer])
        else:
            _submodule(model, layer, "ignored_layers names a layer the model does not have", "check the names")
            names.add(layer)
    return sorted(names)


def _random_batches(model: nn.Module, inputs: torch.Tensor, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two random batches with random labels: a loss gradient when no data is given."""
    with preserved_state(model, train=False), torch.no_grad():
        num_classes = output_tensors(model(inputs))[0].shape[-1]
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(2):
        x = torch.randn(inputs.shape, generator=generator).to(inputs.device)
        y = torch.randint(num_classes, (inputs.shape[0],), generator=generator).to(inputs.device)
        batches.append((x, y))
    return batches


def _widths(model: nn.Module) -> dict[str, int]:
    return {name: _out_width(m) for name, m in model.named_modules() if isinstance(m, PRUNABLE_ROOTS)}


def _out_width(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _submodule(model: nn.Module, name: str, problem: str, fix: str) -> nn.Module:
    """``model``'s submodule ``name``, or a BenchError saying ``problem`` (with the name) and ``fix``."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise BenchError(f"{problem}: no layer {name!r}", fix) from None


def group_roots(
    model: nn.Module, example_inputs: torch.Tensor, criterion: str = DEFAULT_CRITERION
) -> list[tuple[str, ScoredGroup]]:
    """Every prunable group as (root layer name, scored group), without changing ``model``.

    The latency table and search (:mod:`compress.latency_search`) name groups by their root
    layer; the scores are the same criterion :func:`prune_model` uses.
    """
    names = {module: name for name, module in model.named_modules()}
    graph, last_layer, _ = _trace(model, batch_of_two(example_inputs))
    ignored = [sub for name in _protected_names(model, last_layer, None) for sub in model.get_submodule(name).modules()]
    candidates, _ = score_groups(graph, get_criterion(criterion).scorer(seed=0), ignored)
    return [(names[c.module], c) for c in candidates]


def prune_to_widths(
    model: nn.Module, widths: dict[str, int], example_inputs: torch.Tensor, *, criterion: str = DEFAULT_CRITERION
) -> dict[str, int]:
    """Prune each group named in ``widths`` (root layer name -> channels kept per slice), in place.

    Channels are chosen exactly as by :func:`prune_model` (same graph, criterion and
    selection); groups not named keep their width. Returns the widths the model now has.
    """
    chosen = get_criterion(criterion)
    if chosen.needs_batches:
        raise BenchError(f"the {chosen.name} criterion needs batches; prune to widths with l1", "use l1")
    inputs = batch_of_two(example_inputs)
    names = {module: name for name, module in model.named_modules()}
    graph, last_layer, shapes_before = _trace(model, inputs)
    ignored = [sub for name in _protected_names(model, last_layer, None) for sub in model.get_submodule(name).modules()]
    try:
        candidates, _ = score_groups(graph, chosen.scorer(seed=0), ignored)
        for candidate in candidates:
            name = names[candidate.module]
            if name in widths:
                keep_lowest_removed(graph, candidate, widths[name])
    except (IndexError, RuntimeError, ValueError) as exc:
        raise _cannot_follow(exc) from None
    _check_outputs(model, inputs, shapes_before)
    return {name: _out_width(model.get_submodule(name)) for name in widths}


class Narrower:
    """Copies of ``model`` with one group narrowed at a time, from one trace (the latency table's
    many points): each :meth:`narrowed` prunes a working copy in place, copies the result and
    puts the working copy back (torch-pruning replaces parameters and buffers, so the originals
    are restored by reference, with the width attributes). The channels chosen are
    :func:`prune_to_widths`'s. A graph with bare ``nn.Parameter`` nodes (which pruning rewires in
    the graph itself) is traced afresh for every copy instead.
    """

    def __init__(self, model: nn.Module, example_inputs: torch.Tensor, *, criterion: str = DEFAULT_CRITERION) -> None:
        chosen = get_criterion(criterion)
        if chosen.needs_batches:
            raise BenchError(f"the {chosen.name} criterion needs batches; prune to widths with l1", "use l1")
        self._criterion = criterion
        self._example = example_inputs[:1]
        self._inputs = batch_of_two(example_inputs)
        self._model = copy.deepcopy(model)
        self._pristine = model
        self._graph, last_layer, self._shapes = _trace(self._model, self._inputs)
        ignored = [
            sub
            for name in _protected_names(self._model, last_layer, None)
            for sub in self._model.get_submodule(name).modules()
        ]
        names = {module: name for name, module in self._model.named_modules()}
        try:
            candidates, _ = score_groups(self._graph, chosen.scorer(seed=0), ignored)
        except (IndexError, RuntimeError, ValueError) as exc:
            raise _cannot_follow(exc) from None
        self.groups: dict[str, ScoredGroup] = {names[c.module]: c for c in candidates}
        self.reuses_trace = not getattr(self._graph, "_param_to_name", None)
        self._saved = [
            (
                module,
                {attr: getattr(module, attr) for attr in _WIDTH_ATTRS if hasattr(module, attr)},
                dict(module._parameters),
                dict(module._buffers),
            )
            for module in self._model.modules()
        ]

    def narrowed(self, name: str, kept: int) -> nn.Module:
        """A new model: ``model`` with group ``name`` keeping ``kept`` channels, the rest full."""
        if not self.reuses_trace:
            fresh = copy.deepcopy(self._pristine)
            prune_to_widths(fresh, {name: kept}, self._example, criterion=self._criterion)
            return fresh
        try:
            keep_lowest_removed(self._graph, self.groups[name], kept)
            result = copy.deepcopy(self._model)
        except (IndexError, RuntimeError, ValueError) as exc:
            raise _cannot_follow(exc) from None
        finally:
            self._restore()
        _check_outputs(result, self._inputs, self._shapes)
        return result

    def _restore(self) -> None:
        for module, attrs, parameters, buffers in self._saved:
            for attr, value in attrs.items():
                setattr(module, attr, value)
            module._parameters.clear()
            module._parameters.update(parameters)
            module._buffers.clear()
            module._buffers.update(buffers)
        history = getattr(self._graph, "_pruning_history", None)
        if history is not None:
            history.clear()
