"""The data behind `bench list` and `bench summary`: zoo metadata joined with counted figures.

Parameters and MACs are counted on the model as :func:`~bench.zoo.registry.create_model`
builds it for a data set's input (channels, image size, class count), with the project's
convention (:mod:`bench.profiling.complexity`: MACs per image at batch 1 in eval mode,
convolutions and linear layers only). Counting needs the architecture, not initialized
weights, so :func:`blank_model` skips the weight initialization where it can: it builds
on the meta device and then allocates zero-filled tensors, which keeps listing the whole
zoo at ImageNet size quick (initializing VGG's 120M-parameter head alone takes seconds).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.profiling.complexity import count_macs, count_params, layer_table
from bench.results.schema import format_input_size
from bench.zoo import create_model, get_model_spec
from bench.zoo.structure import structure_only


@dataclass(frozen=True)
class DataInput:
    """What a data set feeds a model: image channels, image side and class count."""

    in_chans: int
    image_size: int
    num_classes: int


def blank_model(name: str, data: DataInput, **kwargs: Any) -> nn.Module:
    """``name`` built for ``data`` with all-zero weights, skipping the initializers.

    Same modules, shapes and ``bench_cfg`` as :func:`create_model`; for counting only.
    """
    spec = get_model_spec(name)
    model = structure_only(
        lambda: create_model(
            name,
            num_classes=data.num_classes,
            in_chans=data.in_chans,
            input_size=spec.input_size_for_data(data.image_size),
            **kwargs,
        )
    )
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            tensor.zero_()
    return model


def _input_fields(model: nn.Module, data: DataInput) -> dict[str, Any]:
    cfg = model.bench_cfg
    return {
        "input_size": format_input_size(cfg.input_size),
        "data_image_size": data.image_size,
        "resized": cfg.input_size[-1] != cfg.requested_input_size,
        "num_classes": cfg.num_classes,
        "adaptation": cfg.adaptation,
    }


def model_row(name: str, data: DataInput) -> dict[str, Any]:
    """One `bench list` row: metadata, the input fed, params and MACs for ``data``."""
    spec = get_model_spec(name)
    model = blank_model(name, data)
    params, _ = count_params(model)
    macs = count_macs(model, model.bench_cfg.input_size)
    return {
        "model": name,
        "family": spec.family,
        "year": spec.year or None,  # 0: unknown (tv:/timm: models)
        **_input_fields(model, data),
        "params": params,
        "macs": macs.macs,
        "small_input": spec.small_input,
    }


def list_rows(names: Iterable[str], data: DataInput) -> Iterator[dict[str, Any]]:
    """:func:`model_row` for each name, lazily (the caller can show progress)."""
    for name in names:
        yield model_row(name, data)


@dataclass
class ModelSummary:
    """A per-layer table (`bench summary`) and the model's totals."""

    model: str
    input_size: str
    data_image_size: int
    resized: bool
    num_classes: int
    adaptation: str
    params: int
    trainable_params: int
    macs: int
    layers: list[dict[str, Any]] = field(default_factory=list)
    unsupported_ops: dict[str, int] = field(default_factory=dict)


def summarize(name: str, data: DataInput) -> ModelSummary:
    """Leaf layers in execution order (type, output shape, params, MACs) plus totals."""
    model = blank_model(name, data)
    shape = model.bench_cfg.input_size
    params, trainable = count_params(model)
    macs = count_macs(model, shape)
    layers = [
        {
            "layer": info.layer,
            "type": info.type,
            "output_shape": format_input_size(info.output_shape[1:]),  # per image
            "params": info.params,
            "macs": info.macs,
        }
        for info in layer_table(model, shape)
    ]
    return ModelSummary(
        model=name,
        **_input_fields(model, data),
        params=params,
        trainable_params=trainable,
        macs=macs.macs,
        layers=layers,
        unsupported_ops=macs.unsupported_ops,
    )
