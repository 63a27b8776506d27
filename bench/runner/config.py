"""What a `bench run` does, as data: the validated settings and the plan of cells.

A cell is the runner's unit of work and of resumption: one model in one variant
(``"resnet20|pruned-50"``). It yields one row per device and batch size. A run directory
keeps the settings it was started with; ``--resume`` refuses settings that would make its
rows incomparable (another data set, preset, seed, device, timing, or another way of
building and training the baseline: weights, freeze, dropout), and may add models or
variants (more ratios, more normalizations).
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
from compress.variants import Variant, plan_variants

DEFAULT_MAX_DROP = 0.5  # --max-drop: top-1 points a variant may lose and still be picked (contract)

# Settings a resumed run must share with the run it continues.
RESUME_INVARIANTS = (
    "dataset",
    "data_dir",
    "preset",
    "seed",
    "device",
    "input_size",
    "epochs",
    "threads",
    "weights",
    "freeze",
    "dropout",
)


@dataclass(frozen=True)
class RunConfig:
    """Everything `bench run` was asked to do (CLI flags, parsed and validated).

    ``norms`` are the normalizations of a study (``norm-gn``, ... variants; ``bn`` is the
    baseline); ``weights``/``freeze`` say how the baseline is trained (transfer learning) and
    ``dropout`` the classifier dropout of every trained model (baseline and norm variants).
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
    prune_ratios: tuple[float, ...] = (0.5,)
    quantize: str | None = "int8"
    importance: str = "l1"
    engine: str = "x86"
    calib_images: int = 512
    batch_sizes: tuple[int, ...] = (1, 32)
    threads: int | None = None
    timing: TimingConfig = field(default_factory=TimingConfig)
    cache_dir: Path | None = None
    download: bool = False
    resume: bool = False
    baseline: Path | None = None
    norms: tuple[str, ...] = ()
    dropout: float | None = None
    weights: str | None = None  # pretrained or a path: what the baseline fine-tunes from
    freeze: str | None = None  # the --freeze label (backbone, none, N) of that fine-tune
    max_drop: float = DEFAULT_MAX_DROP  # accuracy budget (top-1 points) the report picks variants within

    def __post_init__(self) -> None:
        check_max_drop(self.max_drop)

    def variants(self) -> list[Variant]:
        return plan_variants(self.prune_ratios, self.quantize, self.norms)

    def cells(self) -> list[Cell]:
        """Every cell of the run, model by model, variants in their stable order."""
        return [Cell(model, variant) for model in self.models for variant in self.variants()]

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
            norms=list(self.norms),
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
            "pass e.g. --max-drop 0.5 (the default) or --max-drop 0 for no accuracy loss",
        )
    return float(value)


def check_resumable(stored: dict[str, Any], config: RunConfig) -> None:
    """Refuse to resume a run with settings that would mix incomparable rows."""
    current = config.to_dict()
    differences = [
        f"{key} {stored.get(key)!r} -> {current.get(key)!r}"
        for key in RESUME_INVARIANTS
        if key in stored and stored.get(key) != current.get(key)
    ]
    stored_timing = stored.get("timing")
    if stored_timing is not None and stored_timing != current["timing"]:
        differences.append("timing settings")
    if differences:
        raise BenchError(
            f"cannot resume {config.out_dir}: it was started with other settings ({'; '.join(differences)})",
            "resume with the original flags, or start a new run with another --out",
        )
