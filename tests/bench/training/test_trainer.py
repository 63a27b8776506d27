"""fit: history format, best-epoch restore, seeding, callbacks, divergence."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.utils.data import Subset

from bench.data import load_splits
from bench.errors import BenchError
from bench.training import evaluate, fit, get_recipe
from bench.training.trainer import HISTORY_KEYS, build_optimizer
from bench.zoo import create_model, get_model_spec


@pytest.fixture(scope="module")
def small_digits():
    """A third of the digits training images: enough to learn, fast to fit."""
    splits = load_splits("digits")
    return replace(splits, train=Subset(splits.train, range(384)), val=Subset(splits.val, range(120)))


def lenet_recipe(**changes):
    return replace(get_recipe(get_model_spec("lenet5"), "quick", "digits"), **changes)


def train_lenet(splits, seed: int, epochs: int = 3, **kwargs):
    torch.manual_seed(seed)
    model = create_model("lenet5", num_classes=10, in_chans=1)
    return model, fit(model, splits, lenet_recipe(epochs=epochs), device="cpu", seed=seed, **kwargs)


class RecordingCallback:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_start(self, epochs: int, steps_per_epoch: int) -> None:
        self.calls.append(("start", epochs, steps_per_epoch))

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None:
        self.calls.append(("step", epoch, step, loss, top1, images_per_s))

    def on_epoch_end(self, entry: dict[str, float]) -> None:
        self.calls.append(("epoch", entry))


def test_fit_learns_keeps_history_and_restores_the_best_epoch(small_digits) -> None:
    callback = RecordingCallback()
    model, result = train_lenet(small_digits, seed=0, callback=callback)
    assert [tuple(entry) for entry in result.history] == [HISTORY_KEYS] * 3
    assert [entry["epoch"] for entry in result.history] == [1, 2, 3]
    assert result.best_val_top1 == max(entry["val_top1"] for entry in result.history)
    assert result.history[result.best_epoch - 1]["val_top1"] == result.best_val_top1
    assert result.best_val_top1 > 50  # far above the 10% of chance after 3 short epochs
    assert evaluate(model, small_digits.val, device="cpu").top1 == pytest.approx(result.best_val_top1)
    assert result.seconds >= sum(entry["seconds"] for entry in result.history) * 0.99

    steps = 384 // 32
    assert callback.calls[0] == ("start", 3, steps)
    step_calls = [c for c in callback.calls if c[0] == "step"]
    assert len(step_calls) == 3 * steps and step_calls[-1][1:3] == (3, steps)
    assert all(c[5] > 0 and 0 <= c[4] <= 100 for c in step_calls)
    assert [c[1] for c in callback.calls if c[0] == "epoch"] == result.history


def test_same_seed_same_result_other_seed_other_result(small_digits) -> None:
    first, result_a = train_lenet(small_digits, seed=7, epochs=1)
    second, result_b = train_lenet(small_digits, seed=7, epochs=1)
    _, result_c = train_lenet(small_digits, seed=8, epochs=1)
    strip = lambda history: [{k: v for k, v in e.items() if k != "seconds"} for e in history]  # noqa: E731
    assert strip(result_a.history) == strip(result_b.history)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert strip(result_a.history) != strip(result_c.history)


def test_weight_decay_skips_biases_and_norm_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decayed, plain = build_optimizer(model, lenet_recipe(weight_decay=0.5)).param_groups
    assert decayed["weight_decay"] == 0.5 and plain["weight_decay"] == 0.0
    assert sorted(p.ndim for p in decayed["params"]) == [2, 4]
    assert len(plain["params"]) == 4  # conv bias, BN weight and bias, linear bias


def test_sgd_recipes_build_sgd_with_momentum() -> None:
    optimizer = build_optimizer(nn.Linear(2, 2), lenet_recipe(optimizer="sgd", momentum=0.8, nesterov=True))
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["momentum"] == 0.8 and optimizer.defaults["nesterov"]


class Diverging(nn.Module):
    """Logits that become NaN: what an exploding network produces."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float("nan")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * self.scale


def test_a_diverging_loss_is_reported_not_trained_on(small_digits) -> None:
    with pytest.raises(BenchError, match=r"training diverged: the loss became nan in epoch 1"):
        fit(Diverging(), small_digits, lenet_recipe(epochs=2), device="cpu", seed=0)


def test_data_init_rescales_a_vanishing_network_before_training(small_digits) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 64), nn.ReLU(), nn.Linear(64, 10))
    for layer in (net[1], net[3]):
        nn.init.normal_(layer.weight, 0, 1e-4)
    start = net[1].weight.norm().item()
    fit(net, small_digits, lenet_recipe(epochs=1, lr=1e-9, data_init=True), device="cpu", seed=0)
    assert net[1].weight.norm().item() > 20 * start  # only the rescaling can grow it this much
