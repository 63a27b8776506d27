"""The one provider of trained models and their compressed variants, shared by every command.

A :class:`ModelProvider` serves one model under one set of requests (what data, what training,
what build, what compression): `bench train` asks it for the trained model, `bench tune` for
a search on its splits, `bench run` (:mod:`bench.runner.session`) and `bench viz` for the
baseline and each variant. So ``pruned-50`` in `bench viz` is the very model `bench run`
measures, loaded from the same caches, and ``int8`` is calibrated the same way.

* The baseline is :func:`~bench.training.obtain_model`'s (the checkpoint cache); on data
  without labels it is the seeded, untrained architecture (speed only, no accuracy).
* A normalization study's models (``norm-gn``, ...) are trained like the baseline, with the
  same recipe, seed and dropout; transfer-learning settings (weights, freeze) shape the
  baseline only: a swapped model has no weights to start from.
* Variants come from :func:`compress.apply.apply_variant`, with this provider's hooks: the
  pruned-model cache (memory, then disk: :mod:`bench.provider.pruned_cache`), fine-tuning
  with :func:`~bench.training.recipes.pruned_recipe` (evaluated before and after), int8
  calibration on a seeded sample of the training images (random inputs on unlabelled data),
  the accuracy budget of int8 (``CompressionRequest.max_drop``: sensitive layers stay float
  until the int8 model's top-1 on the *validation* split is within it of its float model's;
  trained models only, the test split is never used to choose), the latency settings of a
  latency-aware variant (``CompressionRequest.latency``: the run's device, smallest batch size and
  threads; its latency table cached beside the checkpoints, ``<cache>/latency/``; on trained
  models its search weighs narrowings by the loss they add on the first training images), and the
  caller's phase clock.

The provider keeps its models in memory while a caller walks the variants; a failed baseline
is remembered (:attr:`ModelProvider.baseline_error`) so the caller can skip what depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.data import DataSplits, get_dataset_spec
from bench.provider.observer import PhaseClock, ProgressObserver, SilentProgress
from bench.provider.pruned_cache import PrunedModel, PrunedModelCache, pruned_cache_path
from bench.training.checkpoint import default_cache_dir
from bench.training.evaluation import EvalResult, evaluate
from bench.training.obtain import TrainedModel, file_digest, obtain_model
from bench.training.recipes import Recipe, pruned_recipe
from bench.training.requests import (
    BuildRequest,
    DataRequest,
    TrainingRequest,
    WeightsSource,
    input_size_for,
    model_for_splits,
    splits_for_model,
    training_recipe,
)
from bench.training.trainer import fit
from bench.training.tune import TuneCallback, TuneResult, tune
from bench.zoo import get_model_spec
from compress.apply import Finetune, apply_variant
from compress.importance import DEFAULT_CRITERION
from compress.latency_prune import LatencyPruning, LatencySettings, with_cache_dir
from compress.quantization import (
    DEFAULT_CALIBRATION_IMAGES,
    DEFAULT_ENGINE,
    QuantResult,
    random_calibration_batches,
)
from compress.sensitivity import AccuracyBudget, AccuracySearch, SearchLimits
from compress.variants import Variant

GRAD_BATCH = 32  # images per batch a gradient criterion (taylor) scores on, two batches
CALIBRATION_BATCH = 64


@dataclass(frozen=True)
class CompressionRequest:
    """How variants are compressed: the pruning criterion, the int8 engine and calibration size,
    and the top-1 points int8 may lose on the validation split (``max_drop``, `--max-drop`;
    None: plain int8, no accuracy search); where latency-aware variants measure (``latency``;
    its ``cache_dir`` None: the training cache's)."""

    importance: str = DEFAULT_CRITERION
    engine: str = DEFAULT_ENGINE
    calib_images: int = DEFAULT_CALIBRATION_IMAGES
    max_drop: float | None = None
    search_limits: SearchLimits = SearchLimits()
    latency: LatencySettings = LatencySettings()


@dataclass(kw_only=True)
class Baseline:
    """The trained (or, for unlabelled data, untrained) float model every variant starts from."""

    model: nn.Module
    splits: DataSplits
    evaluation: EvalResult | None  # None: untrained, nothing to evaluate on
    history: list[dict[str, float]]
    source: str  # trained, cached, pretrained, file, untrained
    train_seconds: float
    checkpoint_stem: str  # names its pruned models in the disk cache


@dataclass(kw_only=True)
class ProvidedVariant:
    """One variant ready to evaluate and time.

    ``model`` gives the predictions and timings (float, pruned or int8); ``float_model`` is the
    float model behind it (MACs, gradients, feature maps): the pruned model for pruned variants,
    the baseline's for ``int8``. ``pruned`` says how a pruned variant got its accuracy;
    ``quant`` and ``calibration`` (``"512 training images"``) how an int8 one was made, and
    ``search`` how its float layers were chosen (None: no search, e.g. untrained weights).
    ``latency`` is what a latency-aware variant's search measured (goal, speedup, widths).
    """

    variant: Variant
    model: nn.Module
    float_model: nn.Module
    baseline: Baseline
    pruned: PrunedModel | None = None
    latency: LatencyPruning | None = None
    quant: QuantResult | None = None
    calibration: str | None = None
    search: AccuracySearch | None = None


class ModelProvider:
    """Model ``name``'s trained baseline, study models and variants under one set of requests.

    ``splits_cache`` (splits by input size) may be shared between providers of one command,
    so models of one size read the data once.
    """

    def __init__(
        self,
        name: str,
        *,
        data: DataRequest,
        training: TrainingRequest,
        build: BuildRequest | None = None,
        compression: CompressionRequest | None = None,
        observer: ProgressObserver | None = None,
        splits_cache: dict[int, DataSplits] | None = None,
    ) -> None:
        self.name = name
        self.data, self.training = data, training
        self.build = build or BuildRequest()
        self.compression = compression or CompressionRequest()
        self.observer = observer or SilentProgress()
        self.spec = get_model_spec(name)
        self.data_spec = get_dataset_spec(data.dataset)
        self.input_size = input_size_for(self.spec, self.data_spec, data.input_size)
        self._splits_cache = splits_cache if splits_cache is not None else {}
        self._baselines: dict[str | None, Baseline] = {}  # by norm: None is the baseline itself
        self._calibration: dict[str | None, list[torch.Tensor]] = {}  # int8 calibration images, by norm
        self._pruned: dict[str, PrunedModel] = {}  # by ratio
        self.baseline_error: BaseException | None = None  # set when the baseline cannot be had

    # -- data and fresh models -------------------------------------------------------------

    def splits(self) -> DataSplits:
        """The data at this model's input size (read once per size; what was inferred from the
        images is a notice)."""
        if self.input_size not in self._splits_cache:
            splits = splits_for_model(self.spec, self.data_spec, self.data)
            self._splits_cache[self.input_size] = splits
            if splits.inferred:
                self.observer.on_notice(splits.inferred)
        return self._splits_cache[self.input_size]

    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of this model's inputs: the loaded splits' (an image folder's channels are
        inferred), else the data set's channel count at this input size."""
        loaded = self._splits_cache.get(self.input_size)
        if loaded is not None:
            return loaded.input_shape
        return (self.data_spec.in_chans, self.input_size, self.input_size)

    def fresh_model(self, norm: str | None = None) -> nn.Module:
        """The architecture as built for training (or with ``norm``), freshly seeded."""
        build = self._build_for(norm)
        return model_for_splits(self.name, self.splits(), seed=self.data.seed, norm=build.norm, dropout=build.dropout)

    def _build_for(self, norm: str | None) -> BuildRequest:
        """The baseline's build, or a study model's: its normalization, the same dropout, no start weights."""
        return self.build if norm is None else BuildRequest(norm=norm, dropout=self.build.dropout)

    # -- trained models --------------------------------------------------------------------

    def trained(self, norm: str | None = None) -> TrainedModel:
        """The trained model (``norm``: a study's swapped model), from the checkpoint cache or trained
        now; its warnings (a damaged cached checkpoint trained again) go to the observer."""
        trained = obtain_model(
            self.name,
            data=self.data,
            training=self.training,
            build=self._build_for(norm),
            splits=self.splits(),
            callback=self.observer.train_callback(),
        )
        for warning in trained.warnings:
            self.observer.on_notice(f"{self.name}: {warning}")
        return trained

    def search(self, grid: dict[str, list[Any]], callback: TuneCallback | None = None) -> TuneResult:
        """`bench tune`: one throwaway model per grid point, ranked on the validation split."""
        return tune(
            self.name, grid=grid, data=self.data, training=self.training, splits=self.splits(), callback=callback
        )

    def baseline(self, clock: PhaseClock | None = None, norm: str | None = None) -> Baseline:
        """The float model variants start from: the baseline, or with ``norm`` a study's swapped model."""
        if norm not in self._baselines:
            with (clock or PhaseClock(self.observer)).phase("train"):
                try:
                    self._baselines[norm] = self._obtain_baseline(norm)
                except Exception as exc:
                    if norm is None:
                        self.baseline_error = exc
                    raise
        return self._baselines[norm]

    def _obtain_baseline(self, norm: str | None) -> Baseline:
        splits, seed = self.splits(), self.data.seed
        if not self.data_spec.has_labels:  # speed-only data: untrained weights, no accuracy
            stem = "-".join(part for part in (self.name, norm, WeightsSource.UNTRAINED.value, f"s{seed}") if part)
            model = self.fresh_model(norm)
            return Baseline(
                model=model,
                splits=splits,
                evaluation=None,
                history=[],
                source=WeightsSource.UNTRAINED,
                train_seconds=0.0,
                checkpoint_stem=stem,
            )
        trained = self.trained(norm)
        if trained.checkpoint_path is not None:
            stem = trained.checkpoint_path.stem
        else:  # --weights PATH, evaluated as it is: the file's bytes name its pruned models
            stem = f"{self.name}-file-{file_digest(self.build.weights)}-s{seed}"
        return Baseline(
            model=trained.model,
            splits=splits,
            evaluation=trained.evaluation,
            history=trained.history,
            source=trained.source,
            train_seconds=trained.train_seconds,
            checkpoint_stem=stem,
        )

    # -- variants --------------------------------------------------------------------------

    def calibration_batches(self, norm: str | None = None) -> list[torch.Tensor]:
        """The images int8 is calibrated on, as :meth:`variant` passes them: a seeded sample of
        the training split, or (no labels, a speed-only run) seeded random inputs. Every
        runtime's int8 (``--runtime``) calibrates on these same images."""
        if norm not in self._calibration:
            base = self.baseline(norm=norm)
            count, seed = self.compression.calib_images, self.data.seed
            if base.evaluation is not None:
                self._calibration[norm] = list(_calibration_batches(base.splits, count, seed))
            else:
                self._calibration[norm] = random_calibration_batches(base.splits.input_shape, count, seed=seed)
        return self._calibration[norm]

    def variant(self, variant: Variant, clock: PhaseClock | None = None) -> ProvidedVariant:
        """``variant`` built on its baseline (see the module docstring); models are cached, so
        ``pruned-50+int8`` quantizes the very model ``pruned-50`` returned."""
        clock = clock or PhaseClock(self.observer)
        base = self.baseline(clock, variant.norm)
        if not (variant.is_pruned or variant.is_quantized):  # the baseline and study models, as trained
            return ProvidedVariant(variant=variant, model=base.model, float_model=base.model, baseline=base)
        splits, seed, settings = base.splits, self.data.seed, self.compression
        labelled = base.evaluation is not None
        recipe = pruned_recipe(training_recipe(self.spec, self.data_spec, self.training))
        latency = with_cache_dir(settings.latency, self.training.cache_dir or default_cache_dir())
        cache = PrunedModelCache(
            self._pruned,
            path_for=lambda key: pruned_cache_path(
                self.training.cache_dir,
                base.checkpoint_stem,
                ratio=key if not isinstance(key, str) else None,
                target=key if isinstance(key, str) else None,
                measured_on=latency.environment_key() if isinstance(key, str) else None,
                criterion=settings.importance,
                recipe=recipe.to_dict() if labelled else None,
                seed=seed,
            ),
            fresh_model=self.fresh_model,
            phase=clock.phase,
            notice=self.observer.on_notice,
            on_damaged=self.training.on_damaged,
        )
        finetune: Finetune = _FineTune(splits, recipe, self.training, seed, clock) if labelled else _untrained
        built = apply_variant(
            base.model,
            variant,
            example_inputs=_batch(splits.train_plain, range(2))[0],
            calib_batches=_calibration_batches(splits, settings.calib_images, seed) if labelled else None,
            calib_images=settings.calib_images,
            criterion=settings.importance,
            grad_batches=_grad_batches(splits),
            sensitivity_batches=_grad_batches(splits) if labelled else None,
            engine=settings.engine,
            seed=seed,
            finetune=finetune,
            cache=cache,
            phase=clock.phase,
            accuracy=_accuracy_budget(splits, settings) if labelled else None,
            latency=latency,
        )
        return ProvidedVariant(
            variant=variant,
            model=built.model,
            float_model=built.float_model,
            baseline=base,
            pruned=built.pruned.finetuned if built.pruned is not None else None,
            quant=built.quant,
            calibration=built.calibration,
            search=built.search,
            latency=built.latency,
        )


@dataclass
class _FineTune:
    """The fine-tuning hook of a trained baseline's pruned model: evaluate, train, evaluate."""

    splits: DataSplits
    recipe: Recipe
    training: TrainingRequest
    seed: int
    clock: PhaseClock

    def __call__(self, model: nn.Module) -> PrunedModel:
        device, splits, phase = self.training.torch_device, self.splits, self.clock.phase
        with phase("evaluate"):
            before = evaluate(model, splits.test, device=device, class_names=splits.class_names)
        with phase("finetune"):
            callback = self.clock.observer.train_callback()
            trained = fit(model, splits, self.recipe, device=device, seed=self.seed, callback=callback)
        with phase("evaluate"):
            after = evaluate(model, splits.test, device=device, class_names=splits.class_names)
        return PrunedModel(model, WeightsSource.TRAINED, before.top1, after, trained.history, trained.seconds)


@dataclass
class _ValidationTop1:
    """The accuracy budget's ``top1`` hook: top-1 on the validation split, on the model's device
    (the float model may sit on the training GPU; int8 models are on the CPU)."""

    splits: DataSplits

    def __call__(self, model: nn.Module) -> float:
        parameter = next(iter(model.parameters()), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        return evaluate(model, self.splits.val, device=device, class_names=self.splits.class_names).top1


def _accuracy_budget(splits: DataSplits, settings: CompressionRequest) -> AccuracyBudget | None:
    """int8's accuracy budget on the validation split (None without validation images); its
    sensitivity sample is the split's first ``sample_images`` images."""
    if settings.max_drop is None or len(splits.val) == 0:
        return None
    limits = settings.search_limits
    sample = [
        _batch(splits.val, range(start, min(start + CALIBRATION_BATCH, limits.sample_images)))[0]
        for start in range(0, min(limits.sample_images, len(splits.val)), CALIBRATION_BATCH)
    ]
    return AccuracyBudget(settings.max_drop, _ValidationTop1(splits), sample, limits)


def _untrained(model: nn.Module) -> PrunedModel:
    """Unlabelled data: nothing to fine-tune on or to evaluate."""
    return PrunedModel(model, WeightsSource.UNTRAINED, None, None, [], 0.0)


def _batch(dataset: Any, indices: Iterable[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``indices`` (clipped to the data set) stacked into (images, labels)."""
    picked = [dataset[i] for i in indices if i < len(dataset)]
    return torch.stack([image for image, _ in picked]), torch.tensor([int(label) for _, label in picked])


def _grad_batches(splits: DataSplits) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The first training images (eval transforms) in two batches, read only if a criterion asks."""
    for start in (0, GRAD_BATCH):
        yield _batch(splits.train_plain, range(start, start + GRAD_BATCH))


def _calibration_batches(splits: DataSplits, n_images: int, seed: int) -> Iterator[torch.Tensor]:
    """A fixed, seeded sample of ``n_images`` real training images (eval transforms), in batches,
    read only when int8 calibrates."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(splits.train_plain), generator=generator)[:n_images].tolist()
    for start in range(0, len(order), CALIBRATION_BATCH):
        yield _batch(splits.train_plain, order[start : start + CALIBRATION_BATCH])[0]
