"""One model's share of a run: its variants from the provider, turned into evaluated, timed rows.

The models come from :class:`bench.provider.ModelProvider` (trained or loaded once, pruned
models fine-tuned once and cached, int8 calibrated the same way `bench viz` does); what is
`bench run`'s own lives here: the rows of a cell (accuracy, how the variant was made), the
int8 model's evaluation, timing on every planned device and batch size, and the rows of a
cell that failed or was skipped. A failed norm variant fails its own cell; only a failed
baseline skips the model's other cells (:attr:`ModelSession.baseline_error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.data import DataSplits
from bench.devices import device_label
from bench.profiling.profiler import ProfileOptions, profile_model
from bench.provider.observer import PhaseClock
from bench.provider.provider import ModelProvider
from bench.results.schema import DEFAULT_RUNTIME, Status, format_input_size, make_row
from bench.results.store import EVALUATION, HISTORY, Artifact
from bench.runner.config import RunConfig
from bench.runner.observer import RunObserver
from bench.training.evaluation import evaluate
from bench.training.requests import WeightsSource
from compress.latency_prune import latency_fields
from compress.runtimes import runtime_module
from compress.variants import Variant

TIMINGS = "timings"  # artifact kind: seconds per phase of a cell
INT8_SEARCH = "int8_search"  # artifact kind: how an int8 variant's float layers were chosen (--max-drop)
LATENCY_SEARCH = "latency_search"  # artifact kind: a latency-aware variant's attempts (--prune-target)


@dataclass
class CellOutcome:
    """What a finished cell stores: its rows and artifacts."""

    rows: list[dict[str, Any]]
    artifacts: list[Artifact] = field(default_factory=list)


class ModelSession:
    """Everything one model needs across its cells; see the module docstring."""

    def __init__(
        self, name: str, config: RunConfig, observer: RunObserver, splits_cache: dict[int, DataSplits]
    ) -> None:
        self.name = name
        self.config = config
        self.observer = observer
        self.provider = ModelProvider(
            name,
            data=config.data,
            training=config.training,
            build=config.build,
            compression=config.compression,
            observer=observer,
            splits_cache=splits_cache,
        )
        self.spec = self.provider.spec

    @property
    def baseline_error(self) -> BaseException | None:
        """Why the baseline cannot be had (its cell failed), or None."""
        return self.provider.baseline_error

    def run_cell(self, variant: Variant) -> CellOutcome:
        """Build, evaluate and time ``variant``; exceptions propagate to the runner."""
        clock = PhaseClock(self.observer)
        built = self.provider.variant(variant, clock)
        base = built.baseline
        row: dict[str, Any] = {
            "model": self.name,
            "variant": variant.name,
            "dataset": self.config.dataset,
            "family": self.spec.family,
            "num_classes": base.splits.num_classes,
        }
        artifacts: list[Artifact] = []
        evaluation, history = base.evaluation, base.history
        row.update(weights=base.source, train_seconds=base.train_seconds)
        if built.pruned is not None:
            pruned = built.pruned
            evaluation, history = pruned.evaluation, pruned.history
            row.update(
                weights=pruned.source if base.evaluation is not None else WeightsSource.UNTRAINED,
                prune_ratio=variant.prune_ratio,
                importance=self.config.importance,
                top1_before_finetune=pruned.top1_before_finetune,
                train_seconds=pruned.finetune_seconds,
            )
        if built.latency is not None:
            row.update(latency_fields(built.latency))
            artifacts.append(Artifact(LATENCY_SEARCH, self.name, variant.name, built.latency.to_dict()))
        if built.quant is not None:
            row.update(
                quant_engine=built.quant.engine,
                calibration=built.calibration,
                float_layers=",".join(built.quant.float_layers),
            )
            if built.search is not None:
                artifacts.append(Artifact(INT8_SEARCH, self.name, variant.name, built.search.to_dict()))
            if evaluation is not None:
                with clock.phase("evaluate"):
                    evaluation = evaluate(
                        built.model, base.splits.test, device="cpu", class_names=base.splits.class_names
                    )
            history = []
        if evaluation is not None:
            row.update(top1=evaluation.top1, top5=evaluation.top5, loss=evaluation.loss)
            artifacts.append(Artifact(EVALUATION, self.name, variant.name, evaluation.to_dict()))
        if history:
            artifacts.append(Artifact(HISTORY, self.name, variant.name, history))
        rows = self._profile(built.model, built.float_model, variant, row, clock)
        artifacts.append(Artifact(TIMINGS, self.name, variant.name, clock.seconds))
        return CellOutcome(rows, artifacts)

    def _profile(
        self, model: nn.Module, float_model: nn.Module, variant: Variant, row: dict[str, Any], clock: PhaseClock
    ) -> list[dict[str, Any]]:
        """Rows for every planned device, runtime and batch size; a runtime that fails to
        convert or run fails its own rows, not the cell's other runtimes."""
        cfg = self.config
        rows: list[dict[str, Any]] = []
        for device in cfg.devices_for(variant):
            options = ProfileOptions(
                device=device,
                batch_sizes=list(cfg.batch_sizes),
                precision="int8" if variant.is_quantized else "fp32",
                threads=cfg.threads,
                timing=cfg.timing,
            )
            for runtime in cfg.runtimes:
                if runtime == DEFAULT_RUNTIME:
                    with clock.phase("profile"):
                        macs_model = float_model if variant.is_quantized else None
                        rows.extend(
                            profile_model(
                                model,
                                input_shape=self.provider.splits().input_shape,
                                options=options,
                                macs_model=macs_model,
                                base_row=row,
                            )
                        )
                elif device.type != "cpu":
                    error = f"the {runtime} runtime runs on the CPU in cnnbench (its CPU rows are measured)"
                    rows.extend(self.failed_rows(variant, error, Status.SKIPPED, devices=[device], runtimes=[runtime]))
                else:
                    rows.extend(self._runtime_rows(runtime, float_model, variant, row, options, clock))
        float_model.cpu()
        return rows

    def _runtime_rows(
        self,
        runtime: str,
        float_model: nn.Module,
        variant: Variant,
        row: dict[str, Any],
        options: ProfileOptions,
        clock: PhaseClock,
    ) -> list[dict[str, Any]]:
        """``variant`` converted for ``runtime`` (its int8 by that runtime's own quantizer, on
        the same calibration images), evaluated when int8 (its numerics are its own), timed."""
        splits = self.provider.splits()
        runtime_row = dict(row)
        try:
            with clock.phase(f"convert {runtime}"):
                calib = self.provider.calibration_batches() if variant.is_quantized else []
                example = calib[0][:1] if calib else torch.zeros(1, *splits.input_shape)
                deployed = runtime_module(runtime).deploy(
                    float_model.cpu().eval(),
                    options.precision,
                    example=example,
                    calib_batches=calib,
                    threads=self.config.threads,
                )
            if variant.is_quantized:
                runtime_row.update(quant_engine=deployed.quant_engine, float_layers="")
                if row.get("top1") is not None:
                    with clock.phase(f"evaluate {runtime}"):
                        result = evaluate(
                            deployed.as_module(), splits.test, device="cpu", class_names=splits.class_names
                        )
                    runtime_row.update(top1=result.top1, top5=result.top5, loss=result.loss)
            with clock.phase(f"profile {runtime}"):
                return profile_model(
                    float_model,
                    input_shape=splits.input_shape,
                    options=options,
                    base_row=runtime_row,
                    executor=deployed,
                )
        except Exception as exc:
            error = f"{runtime}: {type(exc).__name__}: {exc}".splitlines()[0][:500]
            return self.failed_rows(variant, error, devices=[options.device], runtimes=[runtime])

    def failed_rows(
        self,
        variant: Variant,
        error: str,
        status: str = Status.FAILED,
        *,
        devices: list[torch.device] | None = None,
        runtimes: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One row per planned device, runtime and batch size (or those given), carrying the
        error: nothing goes silently missing."""
        shape = self.provider.input_shape()
        return [
            make_row(
                model=self.name,
                variant=variant.name,
                dataset=self.config.dataset,
                family=self.spec.family,
                input_size=format_input_size(shape),
                device=device_label(device),
                precision="int8" if variant.is_quantized else "fp32",
                runtime=runtime,
                batch_size=batch_size,
                prune_ratio=variant.prune_ratio,
                prune_target=variant.prune_target,
                status=status,
                error=error,
            )
            for device in (devices if devices is not None else self.config.devices_for(variant))
            for runtime in (runtimes if runtimes is not None else self.config.runtimes)
            for batch_size in self.config.batch_sizes
        ]
