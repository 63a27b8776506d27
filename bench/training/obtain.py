"""``obtain_model``: "trains or loads" - the one way every command gets a trained model.

Order of business: ``--weights PATH`` alone loads that file (strict) and evaluates it;
otherwise the checkpoint cache is consulted under a key of model, data, input size, classes,
channels, recipe, seed, weights source and build options (``norm``, ``dropout``, ``freeze``),
and only a miss (or ``--retrain``) trains. ``--weights pretrained`` starts from torchvision's
ImageNet weights and fine-tunes with :func:`finetune_recipe` when the head had to be
re-initialised. ``freeze`` (transfer learning, :mod:`bench.training.freeze`) fine-tunes from
the starting weights, ``pretrained`` or a ``PATH`` (merged like pretrained weights: a head of
another class count starts fresh), with that part of the model held fixed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from bench.data import DataSplits, get_dataset_spec
from bench.errors import BenchError
from bench.training.checkpoint import (
    Checkpoint,
    DamagedCheckpoint,
    checkpoint_key,
    checkpoint_path,
    default_cache_dir,
    load_checkpoint,
    save_checkpoint,
)
from bench.training.evaluation import EvalResult, evaluate
from bench.training.freeze import Freeze, check_start, frozen, plan_freeze, trained_layers
from bench.training.recipes import Recipe, finetune_recipe
from bench.training.requests import (
    BuildRequest,
    DataRequest,
    TrainingRequest,
    WeightsSource,
    model_for_splits,
    splits_for_model,
    training_recipe,
)
from bench.training.trainer import TrainCallback, fit
from bench.training.weights import (
    PRETRAINED,
    load_pretrained,
    load_state_strict,
    merge_pretrained,
    pretrained_weights,
    read_state_dict,
)
from bench.zoo import ModelSpec, get_model_spec


@dataclass(kw_only=True)
class TrainedModel:
    """A model ready for benchmarking, with where it came from and how good it is.

    ``source``: ``trained`` (just now), ``cached`` (loaded from the cache), ``pretrained``
    (torchvision's weights, fine-tuned when the head was new) or ``file`` (``--weights PATH``).
    ``trainable``: the parameters its training changed (empty when it was not trained); the
    model itself comes back with every parameter trainable, whatever was frozen. ``warnings``:
    one line each the user must see (a damaged cached checkpoint that was trained again).
    """

    model: nn.Module
    splits: DataSplits
    history: list[dict[str, float]]
    evaluation: EvalResult
    source: str
    train_seconds: float
    checkpoint_path: Path | None
    recipe: Recipe
    best_epoch: int | None = None
    best_val_top1: float | None = None
    notes: list[str] = field(default_factory=list)
    trainable: list[str] = field(default_factory=list)
    freeze: Freeze | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def trained_layers(self) -> list[str]:
        """``trainable`` as the fewest module names (``["layer3", "fc"]``)."""
        return trained_layers(self.model, self.trainable)


@dataclass(frozen=True)
class _Start:
    """The weights a fine-tune starts from: torchvision's (``state`` None, read on a cache miss) or a file's."""

    key: str  # what the checkpoint key records
    state: dict[str, torch.Tensor] | None = None
    source: str = ""


def obtain_model(
    name: str,
    *,
    data: DataRequest,
    training: TrainingRequest,
    build: BuildRequest | None = None,
    splits: DataSplits | None = None,
    callback: TrainCallback | None = None,
) -> TrainedModel:
    """Train ``name`` as ``training`` says on ``data``, built as ``build`` says, or load it (see
    module doc); evaluation is on the test split.

    ``splits`` (already loaded at the model's input size) saves reading the data again;
    ``callback`` follows the training. ``build`` None: the model as its builder makes it, from
    scratch; a freeze needs ``build.weights`` to start from.
    """
    build = build or BuildRequest()
    spec = get_model_spec(name)
    data_spec = get_dataset_spec(data.dataset)
    data_spec.require_labels("training and evaluation")
    freeze = build.parsed_freeze
    check_start(freeze, build.weights)
    device = training.torch_device
    splits = splits_for_model(spec, data_spec, data, splits)
    recipe = training_recipe(spec, data_spec, training)
    seed = data.seed
    model = model_for_splits(name, splits, seed=seed, norm=build.norm, dropout=build.dropout)
    swapped = model.bench_cfg.norm if model.bench_cfg.norm != spec.norm else None
    if build.weights is not None and not build.pretrained and freeze is None:
        return _from_file(model, Path(build.weights), splits, recipe, device)

    start = None
    if build.weights is not None:
        start = _start_weights(spec, build.weights, swapped)
        recipe = replace(finetune_recipe(recipe), epochs=training.epochs or finetune_recipe(recipe).epochs)
    key = checkpoint_key(
        model=name,
        dataset=splits.identity,
        input_shape=splits.input_shape,
        num_classes=splits.num_classes,
        recipe=recipe.to_dict(),
        seed=seed,
        weights=start.key if start else "scratch",
        norm=swapped,
        dropout=model.bench_cfg.dropout,
        freeze=freeze.label if freeze else None,
    )
    path = checkpoint_path(training.cache_dir or default_cache_dir(), key)
    warnings: list[str] = []
    if path.exists() and not training.retrain:
        try:
            return _from_cache(model, path, key, splits, recipe, device, freeze)
        except DamagedCheckpoint as damaged:  # never used: trained again (and overwritten), or the stop
            if training.on_damaged != "retrain":
                raise
            warnings.append(f"{damaged.problem}: training it again")
            model = model_for_splits(name, splits, seed=seed, norm=build.norm, dropout=build.dropout)
    trained = _train_and_save(
        model,
        spec,
        splits,
        recipe,
        path=path,
        key=key,
        device=device,
        seed=seed,
        start=start,
        freeze=freeze,
        download=data.download,
        callback=callback,
    )
    trained.warnings = warnings
    return trained


def _start_weights(spec: ModelSpec, weights: str | Path, swapped: str | None) -> _Start:
    """What a fine-tune starts from; the cache key names torchvision's file, or a file by its digest."""
    if str(weights) == PRETRAINED:
        if swapped is not None:
            raise BenchError(
                f"--norm {swapped} cannot start from torchvision's ImageNet weights (they were trained with batch norm)",
                "train the swapped model from scratch: drop --weights pretrained",
            )
        # the file name keys the cache: a cached fine-tune needs no file
        return _Start(f"pretrained:{Path(pretrained_weights(spec).url).name}")
    path = Path(weights).expanduser()
    state = read_state_dict(path)
    return _Start(f"file:{file_digest(path)}", state, path.name)


def file_digest(path: str | Path) -> str:
    """A short digest of a weights file's bytes: what names it in cache keys."""
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()[:16]


def _train_and_save(
    model: nn.Module,
    spec: ModelSpec,
    splits: DataSplits,
    recipe: Recipe,
    *,
    path: Path,
    key: dict,
    device: torch.device,
    seed: int,
    start: _Start | None,
    freeze: Freeze | None,
    download: bool,
    callback: TrainCallback | None,
) -> TrainedModel:
    """Train (or fine-tune starting weights, when the head is new or a freeze asks), evaluate, cache."""
    notes: list[str] = []
    fresh: list[str] = []
    needs_training = True
    if start is not None:
        if start.state is None:
            loaded = load_pretrained(model, spec, download=download)
        else:
            loaded = merge_pretrained(model, start.state, source=start.source)
        notes, fresh = loaded.notes(), loaded.reinitialised
        needs_training = bool(fresh) or freeze is not None
    history: list[dict[str, float]] = []
    best_epoch = best_val = None
    seconds = 0.0
    trainable: list[str] = []
    if needs_training:
        plan = plan_freeze(model, spec, freeze or Freeze("none"), trainable=fresh)
        with frozen(model, plan):
            result = fit(model, splits, recipe, device=device, seed=seed, callback=callback)
        history, best_epoch, best_val, seconds, trainable = (
            result.history,
            result.best_epoch,
            result.best_val_top1,
            result.seconds,
            result.trainable,
        )
        if freeze is not None:
            notes.append(_freeze_note(model, freeze, trainable))
    model.to(device)
    evaluation = evaluate(model, splits.test, device=device, class_names=splits.class_names)
    source = WeightsSource.PRETRAINED if start is not None and start.state is None else WeightsSource.TRAINED
    meta = {
        "model": spec.name,
        "source": source,
        "train_seconds": seconds,
        "best_epoch": best_epoch,
        "best_val_top1": best_val,
        "notes": notes,
        "trainable": trainable,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": str(torch.__version__),
        "device": str(device),
    }
    save_checkpoint(path, Checkpoint(key, model.state_dict(), history, evaluation.to_dict(), meta))
    return TrainedModel(
        model=model,
        splits=splits,
        history=history,
        evaluation=evaluation,
        source=source,
        train_seconds=seconds,
        checkpoint_path=path,
        recipe=recipe,
        best_epoch=best_epoch,
        best_val_top1=best_val,
        notes=notes,
        trainable=trainable,
        freeze=freeze,
    )


def _freeze_note(model: nn.Module, freeze: Freeze, trainable: list[str]) -> str:
    total = sum(1 for _ in model.parameters())
    layers = ", ".join(trained_layers(model, trainable))
    return f"--freeze {freeze.label}: trained {layers} ({len(trainable)} of {total} parameter tensors), the rest frozen"


def _from_cache(
    model: nn.Module,
    path: Path,
    key: dict,
    splits: DataSplits,
    recipe: Recipe,
    device: torch.device,
    freeze: Freeze | None,
) -> TrainedModel:
    checkpoint = load_checkpoint(path, expected_key=key)
    load_state_strict(
        model, checkpoint.state_dict, source=f"checkpoint {path}", fix=f"rerun with --retrain, or delete {path}"
    )
    meta = checkpoint.meta
    return TrainedModel(
        model=model.to(device),
        splits=splits,
        history=checkpoint.history,
        evaluation=EvalResult.from_dict(checkpoint.evaluation),
        source=WeightsSource.CACHED,
        train_seconds=float(meta.get("train_seconds") or 0.0),
        checkpoint_path=path,
        recipe=recipe,
        best_epoch=meta.get("best_epoch"),
        best_val_top1=meta.get("best_val_top1"),
        notes=list(meta.get("notes") or []),
        trainable=list(meta.get("trainable") or []),
        freeze=freeze,
    )


def _from_file(model: nn.Module, path: Path, splits: DataSplits, recipe: Recipe, device: torch.device) -> TrainedModel:
    load_state_strict(model, read_state_dict(path), source=str(path))
    model.to(device)
    evaluation = evaluate(model, splits.test, device=device, class_names=splits.class_names)
    return TrainedModel(
        model=model,
        splits=splits,
        history=[],
        evaluation=evaluation,
        source=WeightsSource.FILE,
        train_seconds=0.0,
        checkpoint_path=None,
        recipe=recipe,
        notes=[f"loaded every tensor from {path}"],
    )
