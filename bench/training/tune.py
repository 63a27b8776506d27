"""Grid search over recipe fields, scored on the validation split, and the recipe file it saves.

``--grid lr=0.01,0.1 --grid optimizer=sgd,adam`` trains one model per point of the grid,
each from the same initial weights (same seed) with the preset's recipe changed in those
fields, and ranks the points by the validation top-1 of the epoch the trainer keeps (ties:
lower validation loss). The test split is never read: it stays an unbiased estimate for
the model trained with the winning recipe.

Trials are not written to the checkpoint cache: they are throwaway models, and dozens of
cache entries would only be loaded again by a run that asks for exactly that recipe. The
best recipe is saved as JSON (:func:`save_recipe`); ``bench train --recipe FILE`` trains
with it (:func:`load_recipe`), and that run caches its model under the recipe's key as
any other.

``adam`` is accepted as an optimizer name and run as the trainer's AdamW: with
``weight_decay=0`` the two are the same algorithm; otherwise AdamW decays the weights
decoupled from the gradient, which is what the recipes mean by weight decay.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import json
import math
import time
import types
import typing
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from bench.atomic import atomic_write_text
from bench.data import DataSplits, get_dataset_spec
from bench.errors import BenchError, suggest
from bench.results.schema import Status
from bench.training.recipes import OPTIMIZERS, SCHEDULES, Recipe
from bench.training.requests import DataRequest, TrainingRequest, model_for_splits, splits_for_model, training_recipe
from bench.training.trainer import TrainCallback, fit
from bench.zoo import get_model_spec

RECIPE_FORMAT = "cnnbench-recipe"
RECIPE_VERSION = 1
SCORE = "val_top1"
MAX_TRIALS = 256


@dataclass(frozen=True)
class _Rule:
    """What a grid value of one recipe field may be (its type comes from :class:`Recipe`)."""

    example: str
    low: float | None = None  # the smallest value allowed
    low_open: bool = False  # True: ``low`` itself is not allowed
    high: float | None = None  # values must stay below this

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value < self.high

    def describe(self) -> str:
        parts = [f"{'above' if self.low_open else 'at least'} {self.low:g}"] if self.low is not None else []
        parts += [f"below {self.high:g}"] if self.high is not None else []
        return " and ".join(parts)


# The recipe fields a grid may vary. amp and channels_last change speed, not the result;
# grad_clip_norm and nesterov belong to a family's recipe rather than to a search.
_RULES: dict[str, _Rule] = {
    "lr": _Rule("0.001,0.01", low=0.0, low_open=True),
    "batch_size": _Rule("32,64", low=1),
    "optimizer": _Rule("sgd,adamw"),
    "weight_decay": _Rule("0,5e-4", low=0.0),
    "epochs": _Rule("5,10", low=1),
    "momentum": _Rule("0.9,0.95", low=0.0, high=1.0),
    "label_smoothing": _Rule("0,0.1", low=0.0, high=1.0),
    "warmup_epochs": _Rule("0,1", low=0.0),
    "schedule": _Rule("cosine,constant"),
}
TUNABLE: tuple[str, ...] = tuple(_RULES)
OPTIMIZER_ALIASES = {"adam": "adamw"}
_CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
# Names users reach for that difflib does not find close to the field's (lr vs learning_rate).
KEY_SYNONYMS = {"learning_rate": "lr", "rate": "lr", "wd": "weight_decay", "bs": "batch_size", "optim": "optimizer"}


# -- the grid ---------------------------------------------------------------------------


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["lr=0.01,0.1", "optimizer=sgd,adam"]`` -> ``{"lr": [0.01, 0.1], "optimizer": ["sgd", "adamw"]}``.

    Keys are recipe fields from ``TUNABLE``; values are converted to the field's type and
    checked (positive rates, known optimizers, ...). Repeated values are dropped.
    """
    if not specs:
        raise BenchError("no --grid given: there is nothing to search", "pass e.g. --grid lr=0.01,0.1")
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise BenchError(f"bad --grid {spec!r}", "write KEY=V1,V2 such as --grid lr=0.01,0.1")
        check_key(key)
        if key in grid:
            raise BenchError(f"--grid {key} is given twice", f"list every value once: --grid {key}=V1,V2,...")
        values: list[Any] = []
        for part in text.split(","):
            value = parse_value(key, part.strip())
            if value not in values:
                values.append(value)
        grid[key] = values
    count = math.prod(len(v) for v in grid.values())
    if count > MAX_TRIALS:
        raise BenchError(f"the grid has {count} points, more than {MAX_TRIALS}", "search fewer values at a time")
    return grid


def check_key(key: str) -> None:
    """Accept a tunable recipe field; otherwise a one-line error naming the close ones."""
    if key in TUNABLE:
        return
    if key in {f.name for f in fields(Recipe)}:
        raise BenchError(f"recipe field {key!r} cannot be tuned", f"tune one of {', '.join(TUNABLE)}")
    close = _close_keys(key)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise BenchError(f"unknown grid key {key!r}{hint}", f"tune one of {', '.join(TUNABLE)}")


def _close_keys(key: str) -> list[str]:
    """Tunable fields that look like ``key``: synonyms, then shared prefixes, then difflib's."""
    lowered = key.lower()
    close = [KEY_SYNONYMS[lowered]] if lowered in KEY_SYNONYMS else []
    close += [name for name in TUNABLE if lowered.startswith(name + "_") or name.startswith(lowered)]
    close += difflib.get_close_matches(lowered, TUNABLE, n=3, cutoff=0.6)
    return list(dict.fromkeys(close))[:3]


def parse_value(key: str, text: str) -> Any:
    """One grid value of field ``key``, converted and range-checked; bad values are BenchErrors."""
    rule = _RULES[key]
    if key in _CHOICES:
        name = text.lower()
        if key == "optimizer":
            name = OPTIMIZER_ALIASES.get(name, name)
        if name not in _CHOICES[key]:
            known = ", ".join([*_CHOICES[key], *(OPTIMIZER_ALIASES if key == "optimizer" else ())])
            raise BenchError(f"--grid {key}: unknown value {text!r}{suggest(name, _CHOICES[key])}", f"use {known}")
        return name
    kind = typing.get_type_hints(Recipe)[key]  # int or float
    fix = f"e.g. --grid {key}={rule.example}"
    try:
        value = kind(text)
    except ValueError:
        raise BenchError(f"--grid {key}: {text!r} is not {'an integer' if kind is int else 'a number'}", fix) from None
    if not rule.allows(value):
        raise BenchError(f"--grid {key}: {text} is out of range (must be {rule.describe()})", fix)
    return value


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


# -- the search -------------------------------------------------------------------------


@dataclass
class Trial:
    """One point of the grid: its recipe and how it scored on the validation split."""

    index: int
    params: dict[str, Any]
    recipe: Recipe
    status: str = Status.OK  # ok, or failed (training diverged)
    val_top1: float | None = None  # the kept epoch's
    val_loss: float | None = None
    best_epoch: int | None = None
    seconds: float = 0.0
    error: str | None = None
    history: list[dict[str, float]] = field(default_factory=list)

    def rank_key(self) -> tuple[int, float, float]:
        """Sorts best first: finished trials, higher validation top-1, then lower loss."""
        if self.status != Status.OK or self.val_top1 is None:
            return (1, 0.0, 0.0)
        return (0, -self.val_top1, self.val_loss if self.val_loss is not None else math.inf)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.index,
            "params": self.params,
            "status": self.status,
            "val_top1": self.val_top1,
            "val_loss": self.val_loss,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "error": self.error,
        }


@dataclass
class TuneResult:
    """The trials, best first, and what they searched."""

    model: str
    dataset: str
    preset: str
    seed: int
    base_recipe: Recipe
    grid: dict[str, list[Any]]
    trials: list[Trial]

    @property
    def best(self) -> Trial:
        return self.trials[0]


class TuneCallback(Protocol):
    """Progress of a search: each trial's start (returning its training callback) and end."""

    def on_trial_start(self, trial: int, total: int, params: dict[str, Any]) -> TrainCallback | None: ...

    def on_trial_end(self, trial: Trial) -> None: ...


def tune(
    name: str,
    *,
    grid: dict[str, list[Any]],
    data: DataRequest,
    training: TrainingRequest,
    splits: DataSplits | None = None,
    callback: TuneCallback | None = None,
) -> TuneResult:
    """Train ``name`` once per grid point and rank the points by validation accuracy (module doc).

    The grid changes the recipe ``training`` asks for (its preset's, or its own recipe);
    ``splits`` (already loaded at the model's input size) saves reading the data again.
    """
    spec = get_model_spec(name)
    data_spec = get_dataset_spec(data.dataset)
    data_spec.require_labels("tuning (scored by validation accuracy)")
    device, seed = training.torch_device, data.seed
    splits = splits_for_model(spec, data_spec, data, splits)
    base = training_recipe(spec, data_spec, training)
    points = grid_points(grid)
    trials: list[Trial] = []
    for index, params in enumerate(points, start=1):
        trial = Trial(index, params, replace(base, **params))
        train_callback = callback.on_trial_start(index, len(points), params) if callback else None
        model = model_for_splits(name, splits, seed=seed)  # every trial starts from the same weights
        started = time.perf_counter()
        try:
            result = fit(model, splits, trial.recipe, device=device, seed=seed, callback=train_callback)
        except BenchError as exc:  # a diverging recipe is a result of the search, not its end
            trial.status, trial.error = Status.FAILED, str(exc)
        else:
            kept = result.history[result.best_epoch - 1]
            trial.val_top1, trial.val_loss, trial.best_epoch = result.best_val_top1, kept["val_loss"], result.best_epoch
            trial.history = result.history
        trial.seconds = time.perf_counter() - started
        trials.append(trial)
        if callback:
            callback.on_trial_end(trial)
    ranked = sorted(trials, key=Trial.rank_key)
    if ranked[0].status != Status.OK:
        raise BenchError(
            f"every trial of the grid failed (first: {ranked[0].error})",
            "search gentler values (lower learning rates)",
        )
    return TuneResult(spec.name, data_spec.name, training.preset, seed, base, grid, ranked)


# -- the recipe file --------------------------------------------------------------------


def default_recipe_path(model: str, dataset: str) -> Path:
    """``tune/<model>-<dataset>.json``, relative to the working directory."""
    return Path("tune") / f"{model.replace(':', '_').replace('/', '_')}-{dataset}.json"


def save_recipe(result: TuneResult, path: str | Path) -> Path:
    """Write the best trial's full recipe, with what it was tuned for and the ranked trials."""
    best = result.best
    payload = {
        "format": RECIPE_FORMAT,
        "version": RECIPE_VERSION,
        "recipe": best.recipe.to_dict(),
        "tuned": {
            "model": result.model,
            "dataset": result.dataset,
            "preset": result.preset,
            "seed": result.seed,
            "score": SCORE,
            "val_top1": best.val_top1,
            "val_loss": best.val_loss,
            "params": best.params,
            "grid": result.grid,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "trials": [trial.to_dict() for trial in result.trials],
    }
    path = Path(path)
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
    return path


def load_recipe(path: str | Path) -> Recipe:
    """The recipe of a file written by :func:`save_recipe`; anything else is a one-line BenchError."""
    path = Path(path)
    fix = f"pass a file written by `bench tune` (or rerun it to write {path})"
    if not path.is_file():
        raise BenchError(f"recipe file {path} does not exist", fix)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"recipe file {path} cannot be read ({type(exc).__name__})", fix) from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"recipe file {path} is not valid JSON (line {exc.lineno}: {exc.msg})", fix) from None
    if not isinstance(payload, dict) or payload.get("format") != RECIPE_FORMAT:
        raise BenchError(f"{path} is not a cnnbench recipe file", fix)
    if payload.get("version") != RECIPE_VERSION:
        raise BenchError(f"recipe file {path} has version {payload.get('version')!r}, not {RECIPE_VERSION}", fix)
    data = payload.get("recipe")
    if not isinstance(data, dict):
        raise BenchError(f"recipe file {path} has no recipe object", fix)
    hints = typing.get_type_hints(Recipe)
    unknown = sorted(set(data) - set(hints))
    missing = sorted(f.name for f in fields(Recipe) if f.name not in data and f.default is MISSING)
    if unknown or missing:
        parts = ([f"unknown fields {', '.join(unknown)}"] if unknown else []) + (
            [f"missing fields {', '.join(missing)}"] if missing else []
        )
        raise BenchError(f"recipe file {path} has {' and '.join(parts)}", fix)
    values: dict[str, Any] = {}
    for name, value in data.items():
        if not _matches(value, hints[name]):
            raise BenchError(f"recipe file {path}: {name} = {value!r} is not of type {_type_name(hints[name])}", fix)
        if float in _options(hints[name]) and isinstance(value, int):
            value = float(value)  # 1 and 1.0 must give the same checkpoint key
        rule = _RULES.get(name)
        if rule is not None and name not in _CHOICES and not rule.allows(value):
            raise BenchError(f"recipe file {path}: {name} = {value!r} is out of range (must be {rule.describe()})", fix)
        values[name] = value
    try:
        return Recipe(**values)
    except BenchError as exc:
        raise BenchError(f"recipe file {path}: {exc.problem}", fix) from None


def _options(hint: Any) -> tuple[Any, ...]:
    """``float | None`` -> (float, NoneType); a plain type -> (type,)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a Recipe field's annotation (an int is a float; a bool is neither)."""
    for option in _options(hint):
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return True
        if option is str and isinstance(value, str):
            return True
    return False


def _type_name(hint: Any) -> str:
    return " or ".join("null" if o is type(None) else o.__name__ for o in _options(hint))
