"""What a `bench run` does, as data: the validated settings and the plan of cells.

A cell is the runner's unit of work and of resumption: one model in one variant
(``"resnet20|pruned-50"``). It yields one row per device, runtime and batch size. A run directory
keeps the settings it was started with (:meth:`RunConfig.to_dict`); ``--resume`` compares
every one of them with the new flags and refuses any difference, naming each, except the
few in :data:`RESUME_MAY_CHANGE`: what the run covers (more models, ratios, latency goals,
normalizations or int8) and where things are kept. A setting added to the configuration is therefore
checked on resume without anyone having to remember it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.devices import device_label
from bench.errors import BenchError
from bench.profiling.timing import TimingConfig
from bench.provider.provider import CompressionRequest
from bench.results.schema import DEFAULT_RUNTIME
from bench.training.requests import BuildRequest, DataRequest, TrainingRequest
from compress.importance import DEFAULT_CRITERION
from compress.latency_prune import DEFAULT_BUDGET_S, LatencySettings
from compress.quantization import DEFAULT_CALIBRATION_IMAGES, DEFAULT_ENGINE
from compress.variants import Variant, plan_variants

# Settings a resumed run may change; every other setting of `RunConfig.to_dict()` (nested ones
# by their dotted path, e.g. timing.min_iters) must equal the one the run was started with.
# Matched by full path or by the last part, so they survive the settings being regrouped.
RESUME_MAY_CHANGE = frozenset(
    {
        "models",  # more models: new cells
        "prune_ratios",  # more ratios: new pruned variants
        "prune_targets",  # more latency goals: new pruned-Xx variants (each keyed by its goal)
        "norms",  # more normalizations: new norm variants
        "quantize",  # int8 on or off: int8 variants added (those done stay)
        "variants",  # derived from the three above
        "out_dir",  # the same directory, however it is spelt
        "resume",
        "baseline",  # only what the finished run is compared with
        "cache_dir",  # where checkpoints are kept, not what they hold (they are keyed by content)
        "damaged_cache",  # what a damaged cached model leads to: it is never used either way
        "download",  # whether a missing data set may be fetched
        "executor",  # where the cells run, not what they measure (timings never share hardware)
        "ray_address",
    }
)


@dataclass(frozen=True)
class RunConfig:
    """Everything `bench run` was asked to do (CLI flags, parsed and validated).

    ``norms`` are the normalizations of a study (``norm-gn``, ... variants; ``bn`` is the
    baseline); ``weights``/``freeze`` say how the baseline is trained (transfer learning) and
    ``dropout`` the classifier dropout of every trained model (baseline and norm variants).

    ``max_drop`` (``--max-drop P``, top-1 points) is one budget with two uses: int8 variants
    keep their most sensitive layers in float until their top-1 on the validation split is
    at most P below their float model's (:mod:`compress.sensitivity`; on trained models
    only), and the report picks the fastest variant whose test top-1 is at most P below the
    baseline's. The search is opt-in, as NNCF's accuracy-controlled quantization is a mode of
    its own: without the flag (None) int8 is plain FX PTQ as before and the report picks
    within :data:`DEFAULT_MAX_DROP`. Since it changes what the int8 cells measure, a resume
    must keep it.
    """

    models: tuple[str, ...]
    out_dir: Path
    dataset: str = "digits"
    data_dir: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    preset: str = "quick"
    epochs: int | None = None
    seed: int = 0
    input_size: int | None = None
    augment: str | None = None  # --augment: none, light, imagenet; None: the data set's choice
    hflip: bool | None = None  # --hflip / --no-hflip; None: the augmentation's default
    prune_ratios: tuple[float, ...] = (0.5,)
    prune_targets: tuple[str, ...] = ()  # --prune-target: latency goals, canonical (speedup:2)
    prune_budget_s: float = DEFAULT_BUDGET_S  # --prune-budget: seconds a latency table may take
    quantize: str | None = "int8"
    importance: str = DEFAULT_CRITERION
    engine: str = DEFAULT_ENGINE
    calib_images: int = DEFAULT_CALIBRATION_IMAGES
    batch_sizes: tuple[int, ...] = (1, 32)
    threads: int | None = None
    timing: TimingConfig = field(default_factory=TimingConfig)
    cache_dir: Path | None = None
    damaged_cache: str = "retrain"  # --damaged-cache: retrain or stop
    download: bool = False
    resume: bool = False
    baseline: Path | None = None
    norms: tuple[str, ...] = ()
    dropout: float | None = None
    weights: str | None = None  # pretrained or a path: what the baseline fine-tunes from
    freeze: str | None = None  # the --freeze label (backbone, none, N) of that fine-tune
    executor: str = "local"  # local (this process) or ray: where the models' cells run
    ray_address: str | None = None  # --ray-address: auto or HOST:PORT; None starts a local Ray
    max_drop: float | None = None  # --max-drop: int8's float-layer search and the report's pick
    runtimes: tuple[str, ...] = (DEFAULT_RUNTIME,)  # --runtime: who executes every variant (an axis)

    def __post_init__(self) -> None:
        if self.max_drop is not None:
            check_max_drop(self.max_drop)

    def variants(self) -> list[Variant]:
        return plan_variants(self.prune_ratios, self.quantize, self.norms, self.prune_targets)

    def cells(self) -> list[Cell]:
        """Every cell of the run, model by model, variants in their stable order."""
        return [Cell(model, variant) for model in self.models for variant in self.variants()]

    # The run's settings as the provider's requests (bench.provider.ModelProvider).

    @property
    def data(self) -> DataRequest:
        return DataRequest(
            self.dataset,
            data_dir=self.data_dir,
            input_size=self.input_size,
            seed=self.seed,
            download=self.download,
            augment=self.augment,
            hflip=self.hflip,
        )

    @property
    def training(self) -> TrainingRequest:
        return TrainingRequest(
            preset=self.preset,
            epochs=self.epochs,
            device=self.device,
            cache_dir=self.cache_dir,
            on_damaged=self.damaged_cache,
        )

    @property
    def build(self) -> BuildRequest:
        """The baseline's build (a norm study's models take only ``dropout`` from it)."""
        return BuildRequest(weights=self.weights, freeze=self.freeze, dropout=self.dropout)

    @property
    def compression(self) -> CompressionRequest:
        return CompressionRequest(
            importance=self.importance,
            engine=self.engine,
            calib_images=self.calib_images,
            max_drop=self.max_drop,
            latency=self.latency,
        )

    @property
    def latency(self) -> LatencySettings:
        """Where a latency-aware variant measures: the run's device, its smallest batch size, its
        threads (its float rows are timed there too) and its timing settings (the measured check)."""
        return LatencySettings(
            device=str(self.device),
            batch_size=min(self.batch_sizes),
            threads=self.threads,
            budget_s=self.prune_budget_s,
            check_timing=self.timing,
        )

    def devices_for(self, variant: Variant) -> list[torch.device]:
        """Where a variant is timed: int8 kernels run on the CPU only; under CUDA the float
        variants are also timed on the CPU, so int8 has an fp32 row to be compared with."""
        cpu = torch.device("cpu")
        if variant.is_quantized:
            return [cpu]
        if self.device.type == "cuda" and self.quantize is not None:
            return [self.device, cpu]
        return [self.device]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, recorded in the run directory."""
        data = asdict(self)
        data.update(
            models=list(self.models),
            out_dir=str(self.out_dir),
            data_dir=None if self.data_dir is None else str(self.data_dir),
            device=device_label(self.device),
            prune_ratios=list(self.prune_ratios),
            prune_targets=list(self.prune_targets),
            norms=list(self.norms),
            runtimes=list(self.runtimes),
            batch_sizes=list(self.batch_sizes),
            cache_dir=None if self.cache_dir is None else str(self.cache_dir),
            baseline=None if self.baseline is None else str(self.baseline),
            variants=[v.name for v in self.variants()],
        )
        return data


@dataclass(frozen=True)
class Cell:
    model: str
    variant: Variant

    @property
    def cell_id(self) -> str:
        return f"{self.model}|{self.variant.name}"


def check_max_drop(value: float) -> float:
    """``--max-drop P``: a finite number of top-1 points, at least 0; else a BenchError."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise BenchError(
            f"--max-drop must be a number of top-1 points >= 0, got {value!r}",
            "pass e.g. --max-drop 0.5, or --max-drop 0 for no accuracy loss",
        )
    return float(value)


def check_resumable(stored: dict[str, Any], config: RunConfig) -> None:
    """Refuse to resume a run with settings that would mix incomparable rows or leave cells unmeasured."""
    differences = resume_differences(stored, config.to_dict())
    if differences:
        raise BenchError(
            f"cannot resume {config.out_dir}: it was started with other settings ({'; '.join(differences)})",
            "resume with the original flags, or start a new run with another --out",
        )


def resume_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"batch_sizes [1] -> [1, 32]"`` for each setting outside :data:`RESUME_MAY_CHANGE` that
    differs; settings the stored run did not record (an older cnnbench) are not compared."""
    old, new = _flatten(stored), _flatten(current)
    return [
        f"{key} {_show(old[key])} -> {_show(new.get(key))}"
        for key in old
        if not _may_change(key) and old[key] != new.get(key)
    ]


def _may_change(key: str) -> bool:
    return key in RESUME_MAY_CHANGE or key.rsplit(".", 1)[-1] in RESUME_MAY_CHANGE


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _show(value: Any) -> str:
    return "none" if value is None else repr(value)
