"""Loading weights into zoo models: strict files (``--weights PATH``) and torchvision's ImageNet set.

Everything is read with ``torch.load(weights_only=True)``. A file meant for this exact
model must match it key for key and shape for shape; a mismatch names the layers.
Pretrained ImageNet weights are merged instead: the RGB stem is converted to the model's
channel count (:func:`bench.zoo.adapt.adapt_conv_weight`), linear head layers whose
shape differs (the classifier for another class count, VGG's small-input head) keep their
fresh initialisation, and tensors the model has no place for (GoogLeNet's auxiliary heads)
are skipped - each reported in the returned notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.training.safe_load import load_tensors
from bench.zoo.adapt import adapt_conv_weight
from bench.zoo.spec import ModelSpec

SHOWN = 5  # layer names listed in an error before "..."
PRETRAINED = "pretrained"  # --weights pretrained: torchvision's ImageNet weights, not a file


@dataclass
class PretrainedLoad:
    """What :func:`merge_pretrained` did: tensors loaded, stems adapted, heads left fresh."""

    source: str
    loaded: int
    total: int
    adapted: list[str]  # stem kernels converted from RGB
    reinitialised: list[str]  # linear modules kept at their fresh initialisation
    skipped: list[str]  # top-level modules of the file this model does not have

    def notes(self) -> list[str]:
        lines = [f"loaded {self.loaded} of {self.total} tensors from {self.source}"]
        lines += [f"adapted {k} from 3 input channels" for k in self.adapted]
        if self.reinitialised:
            lines.append("re-initialised " + ", ".join(self.reinitialised) + " (shape differs from ImageNet's)")
        if self.skipped:
            lines.append("skipped " + _names(self.skipped) + " (not in this model)")
        return lines


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: a bare state dict, a cnnbench checkpoint, or ``{"model": ...}``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchError(f"weights file {path} does not exist", "pass the path of a state dict or checkpoint")
    payload = load_tensors(
        path,
        what="weights from",
        fix="pass a state dict saved with torch.save(model.state_dict(), path) or a cnnbench checkpoint",
    )
    if isinstance(payload, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(payload.get(wrapper), dict):
                payload = payload[wrapper]
                break
    if not isinstance(payload, dict) or not payload or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise BenchError(f"{path} holds no state dict of tensors", "pass a state dict or a cnnbench checkpoint")
    return {_strip_module_prefix(k): v for k, v in payload.items()}


def load_state_strict(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    *,
    source: str,
    fix: str = "use weights saved for the same model, data set, class count and input channels",
) -> None:
    """Load ``state`` into ``model``; missing, unexpected or misshapen tensors are a BenchError."""
    target = model.state_dict()
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and state[k].shape != v.shape
    ]
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    problems = []
    if mismatched:
        problems.append("shape mismatch in " + _names(mismatched))
    if missing:
        problems.append("missing " + _names(missing))
    if unexpected:
        problems.append("unexpected " + _names(unexpected))
    if problems:
        raise BenchError(f"weights in {source} do not fit this model: " + "; ".join(problems), fix)
    model.load_state_dict(state)


def pretrained_weights(spec: ModelSpec) -> Any:
    """torchvision's default ImageNet weights enum entry for ``spec`` (no file access)."""
    if not spec.torchvision_name:
        raise BenchError(
            f"{spec.name} has no torchvision ImageNet weights",
            "train it from scratch (drop --weights), or pass --weights PATH",
        )
    from torchvision.models import get_model_weights

    return get_model_weights(spec.torchvision_name).DEFAULT


def pretrained_file(spec: ModelSpec, *, download: bool) -> Path:
    """torchvision's ImageNet weights for ``spec`` in torch.hub's checkpoint folder.

    Downloads only when ``download`` is set; otherwise a missing file is a BenchError
    naming it and where it goes, so an offline machine fails fast and clearly.
    """
    weights = pretrained_weights(spec)
    file = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if file.is_file():
        return file
    if not download:
        raise BenchError(
            f"pretrained weights for {spec.name} not found: expected {file} (from {weights.url})",
            f"download that file into {file.parent} (or set TORCH_HOME), or add --download",
        )
    try:
        weights.get_state_dict(progress=False)  # torch.hub stores it as `file`
    except OSError as exc:
        raise BenchError(
            f"could not download {weights.url} ({exc})",
            f"check the network, or copy the file to {file} by hand",
        ) from None
    return file


def load_pretrained(model: nn.Module, spec: ModelSpec, *, download: bool = False) -> PretrainedLoad:
    """Merge torchvision's ImageNet weights into ``model``; returns what was loaded and how."""
    file = pretrained_file(spec, download=download)
    state = load_tensors(file, what="pretrained weights", fix=f"delete {file} and fetch it again")
    return merge_pretrained(model, state, source=file.name)


def merge_pretrained(model: nn.Module, state: dict[str, torch.Tensor], *, source: str) -> PretrainedLoad:
    """Load what fits from ``state``; adapt the stem; keep fresh linear heads that differ."""
    target = model.state_dict()
    modules = dict(model.named_modules())
    merged: dict[str, torch.Tensor] = {}
    adapted: list[str] = []
    fresh: set[str] = set()
    skipped: list[str] = []
    refused: list[str] = []
    for key, tensor in state.items():
        if key not in target:
            skipped.append(key)
            continue
        want = target[key]
        module_name = key.rsplit(".", 1)[0]
        if tensor.shape == want.shape:
            merged[key] = tensor
        elif _is_stem_mismatch(tensor, want):
            merged[key] = adapt_conv_weight(tensor, want.shape[1])
            adapted.append(key)
        elif isinstance(modules.get(module_name), nn.Linear):
            fresh.add(module_name)
        else:
            refused.append(f"{key} {tuple(tensor.shape)} vs {tuple(want.shape)}")
    missing = [k for k in target if k not in merged and k.rsplit(".", 1)[0] not in fresh]
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if refused or missing:
        detail = "; ".join(
            part
            for part in (
                "shape mismatch in " + _names(refused) if refused else "",
                "no weights for " + _names(missing) if missing else "",
            )
            if part
        )
        raise BenchError(
            f"{source} does not fit {type(model).__name__}: {detail}",
            "use the model's native architecture (default input size) with pretrained weights",
        )
    full = dict(target)
    full.update(merged)
    model.load_state_dict(full)
    return PretrainedLoad(
        source=source,
        loaded=len(merged),
        total=len(target),
        adapted=adapted,
        reinitialised=sorted(fresh),
        skipped=sorted({k.split(".")[0] for k in skipped}),
    )


def _is_stem_mismatch(have: torch.Tensor, want: torch.Tensor) -> bool:
    """A conv kernel that differs only in its input channels, coming from RGB."""
    return (
        have.dim() == 4
        and want.dim() == 4
        and have.shape[1] == 3
        and have.shape[0] == want.shape[0]
        and have.shape[2:] == want.shape[2:]
    )


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" ... ({len(items)} in all)" if len(items) > SHOWN else "")


def _strip_module_prefix(key: str) -> str:
    """``module.conv1.weight`` (saved from DataParallel) -> ``conv1.weight``."""
    return key[len("module.") :] if key.startswith("module.") else key
