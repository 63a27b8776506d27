"""Training: recipes as data, the training loop, evaluation, and the "trains or loads" cache."""

from bench.training.checkpoint import default_cache_dir
from bench.training.evaluation import EvalResult, evaluate
from bench.training.obtain import TrainedModel, obtain_model
from bench.training.recipes import PRESETS, Recipe, finetune_recipe, get_recipe
from bench.training.requests import BuildRequest, DataRequest, TrainingRequest
from bench.training.trainer import TrainCallback, TrainResult, fit

__all__ = [
    "PRESETS",
    "BuildRequest",
    "DataRequest",
    "EvalResult",
    "Recipe",
    "TrainCallback",
    "TrainResult",
    "TrainedModel",
    "TrainingRequest",
    "default_cache_dir",
    "evaluate",
    "finetune_recipe",
    "fit",
    "get_recipe",
    "obtain_model",
]
