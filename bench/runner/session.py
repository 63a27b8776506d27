"""One model's share of a run: train or load it once, then build, evaluate and time each variant.

A :class:`ModelSession` keeps the trained baseline and the fine-tuned pruned models in memory
while the runner walks the model's cells, so ``pruned-50+int8`` quantizes the very model that
``pruned-50`` measured. Fine-tuned pruned models are also cached on disk (next to the
training checkpoints), so a resumed or repeated run loads them instead of fine-tuning again.

A normalization study's variants (``norm-gn``, ...) are models of their own: each is built
with its normalization and trained (or loaded from the checkpoint cache) through the same
:func:`~bench.training.obtain_model` call as the baseline, with the same recipe, seed and
dropout, then evaluated and timed like the baseline. Transfer-learning settings (weights,
freeze) shape the baseline only: a swapped model has no weights to start from. A failed
norm variant fails its own cell; only a failed baseline skips the model's other cells.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.data import DataSplits, get_dataset_spec
from bench.devices import device_label
from bench.profiling.profiler import ProfileOptions, profile_model
from bench.results.schema import format_input_size, make_row
from bench.results.store import EVALUATION, HISTORY, Artifact
from bench.runner.config import RunConfig
from bench.runner.observer import RunObserver
from bench.runner.pruned_cache import PrunedModel, load_cached_pruned, pruned_cache_path, save_cached_pruned
from bench.training.evaluation import EvalResult, evaluate
from bench.training.obtain import file_digest, input_size_for, model_for_splits, obtain_model
from bench.training.recipes import get_recipe, pruned_recipe
from bench.training.trainer import fit
from bench.zoo import get_model_spec
from compress.pruning import prune_model
from compress.quantization import quantize_int8, random_calibration_batches
from compress.variants import Variant

TIMINGS = "timings"  # artifact kind: seconds per phase of a cell


@dataclass
class CellOutcome:
    """What a finished cell stores: its rows and artifacts."""

    rows: list[dict[str, Any]]
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass
class Baseline:
    """The trained (or, for unlabelled data, untrained) float model every variant starts from."""

    model: nn.Module
    splits: DataSplits
    evaluation: EvalResult | None
    history: list[dict[str, float]]
    source: str  # trained, cached, pretrained, file, untrained
    train_seconds: float
    checkpoint_stem: str


class PhaseClock:
    """Seconds per phase of one cell; announces each phase to the observer."""

    def __init__(self, observer: RunObserver) -> None:
        self.observer = observer
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.observer.on_phase(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class ModelSession:
    """Everything one model needs across its cells; see the module docstring."""

    def __init__(
        self, name: str, config: RunConfig, observer: RunObserver, splits_cache: dict[int, DataSplits]
    ) -> None:
        self.name = name
        self.config = config
        self.observer = observer
        self.spec = get_model_spec(name)
        self.data_spec = get_dataset_spec(config.dataset)
        self.input_size = input_size_for(self.spec, self.data_spec, config.input_size)
        self._splits_cache = splits_cache
        self._baselines: dict[str | None, Baseline] = {}  # by norm: None is the baseline itself
        self.baseline_error: BaseException | None = None  # set when the baseline cannot be had
        self._pruned: dict[str, PrunedModel] = {}

    # -- the models -------------------------------------------------------------------

    def splits(self) -> DataSplits:
        from bench.data import load_splits

        if self.input_size not in self._splits_cache:
            self._splits_cache[self.input_size] = load_splits(
                self.config.dataset,
                data_dir=self.config.data_dir,
                input_size=self.input_size,
                seed=self.config.seed,
                download=self.config.download,
            )
        return self._splits_cache[self.input_size]

    def baseline(self, clock: PhaseClock, norm: str | None = None) -> Baseline:
        """The trained float model: the baseline, or with ``norm`` a study's swapped model."""
        if norm not in self._baselines:
            with clock.phase("train"):
                try:
                    self._baselines[norm] = self._obtain_baseline(norm)
                except Exception as exc:
                    if norm is None:
                        self.baseline_error = exc
                    raise
        return self._baselines[norm]

    def _obtain_baseline(self, norm: str | None) -> Baseline:
        cfg = self.config
        splits = self.splits()
        if not self.data_spec.has_labels:  # speed-only data: untrained weights, no accuracy
            model = self._fresh_model(norm)
            stem = "-".join(part for part in (self.name, norm, "untrained", f"s{cfg.seed}") if part)
            return Baseline(model, splits, None, [], "untrained", 0.0, stem)
        transfer = {"weights": cfg.weights, "freeze": cfg.freeze} if norm is None else {}
        trained = obtain_model(
            self.name,
            dataset=cfg.dataset,
            data_dir=cfg.data_dir,
            preset=cfg.preset,
            seed=cfg.seed,
            device=cfg.device,
            cache_dir=cfg.cache_dir,
            epochs=cfg.epochs,
            input_size=cfg.input_size,
            splits=splits,
            callback=self.observer.train_callback(),
            norm=norm,
            dropout=cfg.dropout,
            **transfer,
        )
        if trained.checkpoint_path is not None:
            stem = trained.checkpoint_path.stem
        else:  # --weights PATH, evaluated as it is: the file's bytes name its pruned models
            stem = f"{self.name}-file-{file_digest(cfg.weights)}-s{cfg.seed}"
        return Baseline(
            trained.model,
            splits,
            trained.evaluation,
            trained.history,
            trained.source,
            trained.train_seconds,
            stem,
        )

    def pruned(self, variant: Variant, clock: PhaseClock) -> PrunedModel:
        """The pruned and fine-tuned float model of ``variant``'s ratio (memory, disk, or built)."""
        ratio = variant.prune_ratio
        assert ratio is not None
        key = f"{ratio:g}"
        if key in self._pruned:
            return self._pruned[key]
        base = self.baseline(clock)
        cfg = self.config
        recipe = pruned_recipe(get_recipe(self.spec, cfg.preset, cfg.dataset, epochs=cfg.epochs))
        path = pruned_cache_path(
            cfg.cache_dir,
            base.checkpoint_stem,
            ratio=ratio,
            criterion=cfg.importance,
            recipe=recipe.to_dict() if base.evaluation is not None else None,
            seed=cfg.seed,
        )
        with clock.phase("prune"):
            cached = load_cached_pruned(path, self._fresh_model())
        if cached is None:
            cached = self._prune_and_finetune(base, ratio, recipe, clock)
            save_cached_pruned(path, cached)
        self._pruned[key] = cached
        return cached

    def _prune_and_finetune(self, base: Baseline, ratio: float, recipe: Any, clock: PhaseClock) -> PrunedModel:
        cfg = self.config
        splits = base.splits
        model = copy.deepcopy(base.model).cpu()
        examples = _batch(splits.train_plain, range(2))
        with clock.phase("prune"):
            prune_model(
                model,
                ratio=ratio,
                example_inputs=examples[0],
                criterion=cfg.importance,
                grad_batches=[_batch(splits.train_plain, range(i, i + 32)) for i in (0, 32)],
                seed=cfg.seed,
            )
        if base.evaluation is None:  # nothing to fine-tune on or to evaluate
            return PrunedModel(model, "untrained", None, None, [], 0.0)
        with clock.phase("evaluate"):
            before = evaluate(model, splits.test, device=cfg.device, class_names=splits.class_names)
        with clock.phase("finetune"):
            trained = fit(
                model, splits, recipe, device=cfg.device, seed=cfg.seed, callback=self.observer.train_callback()
            )
        with clock.phase("evaluate"):
            after = evaluate(model, splits.test, device=cfg.device, class_names=splits.class_names)
        return PrunedModel(model, "trained", before.top1, after, trained.history, trained.seconds)

    def _fresh_model(self, norm: str | None = None) -> nn.Module:
        """The run's architecture, freshly initialised with the run's seed."""
        return model_for_splits(self.name, self.splits(), seed=self.config.seed, norm=norm, dropout=self.config.dropout)

    # -- the cells --------------------------------------------------------------------

    def run_cell(self, variant: Variant) -> CellOutcome:
        """Build, evaluate and time ``variant``; exceptions propagate to the runner."""
        clock = PhaseClock(self.observer)
        base = self.baseline(clock, variant.norm)
        row: dict[str, Any] = {
            "model": self.name,
            "variant": variant.name,
            "dataset": self.config.dataset,
            "family": self.spec.family,
            "num_classes": base.splits.num_classes,
        }
        artifacts: list[Artifact] = []
        float_model, evaluation, history = base.model, base.evaluation, base.history
        row.update(weights=base.source, train_seconds=base.train_seconds)
        if variant.is_pruned:
            pruned = self.pruned(variant, clock)
            float_model, evaluation, history = pruned.model, pruned.evaluation, pruned.history
            row.update(
                weights=pruned.source if base.evaluation is not None else "untrained",
                prune_ratio=variant.prune_ratio,
                importance=self.config.importance,
                top1_before_finetune=pruned.top1_before_finetune,
                train_seconds=pruned.finetune_seconds,
            )
        model = float_model
        if variant.is_quantized:
            model, quant_fields = self.quantized(float_model, base, clock)
            row.update(quant_fields)
            if evaluation is not None:
                with clock.phase("evaluate"):
                    evaluation = evaluate(model, base.splits.test, device="cpu", class_names=base.splits.class_names)
            history = []
        if evaluation is not None:
            row.update(top1=evaluation.top1, top5=evaluation.top5, loss=evaluation.loss)
            artifacts.append(Artifact(EVALUATION, self.name, variant.name, evaluation.to_dict()))
        if history:
            artifacts.append(Artifact(HISTORY, self.name, variant.name, history))
        rows = self._profile(model, float_model, variant, row, clock)
        artifacts.append(Artifact(TIMINGS, self.name, variant.name, clock.seconds))
        return CellOutcome(rows, artifacts)

    def quantized(self, float_model: nn.Module, base: Baseline, clock: PhaseClock) -> tuple[nn.Module, dict[str, Any]]:
        """int8 copy of ``float_model`` calibrated as every run does (seeded real training images,
        or random inputs for unlabelled data), and the row fields that say how."""
        cfg = self.config
        splits = base.splits
        with clock.phase("quantize"):
            if base.evaluation is not None:
                batches = _calibration_batches(splits, cfg.calib_images, cfg.seed)
                source = "training images"
            else:
                batches = random_calibration_batches(splits.input_shape, cfg.calib_images, seed=cfg.seed)
                source = "random inputs"
            quant = quantize_int8(float_model, batches, engine=cfg.engine)
        fields = {"quant_engine": quant.engine, "calibration": f"{quant.calibration_images} {source}"}
        return quant.model, fields

    def _profile(
        self, model: nn.Module, float_model: nn.Module, variant: Variant, row: dict[str, Any], clock: PhaseClock
    ) -> list[dict[str, Any]]:
        cfg = self.config
        rows: list[dict[str, Any]] = []
        with clock.phase("profile"):
            for device in cfg.devices_for(variant):
                options = ProfileOptions(
                    device=device,
                    batch_sizes=list(cfg.batch_sizes),
                    precision="int8" if variant.is_quantized else "fp32",
                    threads=cfg.threads,
                    timing=cfg.timing,
                )
                macs_model = float_model if variant.is_quantized else None
                rows.extend(
                    profile_model(
                        model,
                        input_shape=self.splits().input_shape,
                        options=options,
                        macs_model=macs_model,
                        base_row=row,
                    )
                )
        float_model.cpu()
        return rows

    def failed_rows(self, variant: Variant, error: str, status: str = "failed") -> list[dict[str, Any]]:
        """One row per planned device and batch size, carrying the error (nothing silently missing)."""
        shape = (self.data_spec.in_chans, self.input_size, self.input_size)
        return [
            make_row(
                model=self.name,
                variant=variant.name,
                dataset=self.config.dataset,
                family=self.spec.family,
                input_size=format_input_size(shape),
                device=device_label(device),
                precision="int8" if variant.is_quantized else "fp32",
                batch_size=batch_size,
                prune_ratio=variant.prune_ratio,
                status=status,
                error=error,
            )
            for device in self.config.devices_for(variant)
            for batch_size in self.config.batch_sizes
        ]


def _batch(dataset: Any, indices: Iterable[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``indices`` (clipped to the data set) stacked into (images, labels)."""
    picked = [dataset[i] for i in indices if i < len(dataset)]
    return torch.stack([image for image, _ in picked]), torch.tensor([int(label) for _, label in picked])


def _calibration_batches(splits: DataSplits, n_images: int, seed: int, batch_size: int = 64) -> list[torch.Tensor]:
    """A fixed, seeded sample of ``n_images`` real training images (eval transforms), in batches."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(splits.train_plain), generator=generator)[:n_images].tolist()
    return [
        _batch(splits.train_plain, order[start : start + batch_size])[0] for start in range(0, len(order), batch_size)
    ]
