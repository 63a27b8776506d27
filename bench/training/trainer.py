"""The training loop: one recipe, one seed, the best epoch by validation accuracy kept.

Learning rate per step: linear warm-up, then cosine (or constant). Weight decay skips
biases and normalization weights (1-d parameters), as timm and torchvision's references
do. Plain networks may first get a data-dependent rescaling (``Recipe.data_init``, see
:mod:`bench.training.data_init`). Parameters with ``requires_grad=False`` are frozen
(:mod:`bench.training.freeze`): the optimizer never sees them, batch norms made only of
them stay in eval mode, and the data-dependent rescaling is refused (it would change them).
Progress goes to an optional :class:`TrainCallback`; the library never prints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from bench.data import DataSplits, make_loader
from bench.errors import BenchError
from bench.training.accel import amp_dtype, autocast_context, use_channels_last
from bench.training.data_init import unit_variance_init_
from bench.training.evaluation import evaluate
from bench.training.freeze import set_train_mode, trainable_parameters
from bench.training.recipes import Recipe

DATA_INIT_IMAGES = 128  # training images that set the scale of each layer (Recipe.data_init)
HISTORY_KEYS = ("epoch", "train_loss", "train_top1", "val_loss", "val_top1", "lr", "seconds")


class TrainCallback(Protocol):
    """What :func:`fit` reports while it runs (the CLI draws a progress bar from it)."""

    def on_start(self, epochs: int, steps_per_epoch: int) -> None: ...

    def on_step(self, epoch: int, step: int, loss: float, top1: float, images_per_s: float) -> None: ...

    def on_epoch_end(self, entry: dict[str, float]) -> None: ...


@dataclass
class TrainResult:
    """Per-epoch history (entries keyed by HISTORY_KEYS), the epoch whose weights were kept,
    and the names of the parameters that trained (all of them unless some were frozen)."""

    history: list[dict[str, float]]
    best_epoch: int
    best_val_top1: float
    seconds: float
    trainable: list[str]


def fit(
    model: nn.Module,
    splits: DataSplits,
    recipe: Recipe,
    *,
    device: torch.device | str,
    seed: int,
    callback: TrainCallback | None = None,
    num_workers: int = 0,
) -> TrainResult:
    """Train ``model`` on ``splits.train``, select on ``splits.val``, load the best weights.

    Same ``seed`` on the CPU gives the same weights (shuffling, augmentation, dropout).
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    channels_last = use_channels_last(device, recipe.channels_last)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    loader = make_loader(
        splits.train,
        batch_size=recipe.batch_size,
        shuffle=True,
        seed=seed,
        num_workers=num_workers,
        drop_last=len(splits.train) > recipe.batch_size,  # no 1-image batch for batch norm
    )
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise BenchError("the training split is empty", "check the data set")
    trainable = trainable_parameters(model)
    all_trainable = len(trainable) == len(list(model.parameters()))
    if not trainable and not all_trainable:
        raise BenchError("every parameter of the model is frozen: there is nothing to train", "freeze fewer layers")
    if recipe.data_init:
        if not all_trainable:
            raise BenchError(
                "the recipe's data-dependent init (data_init) would rescale frozen layers",
                "fine-tune with a recipe whose data_init is false",
            )
        sample = make_loader(splits.train_plain, batch_size=DATA_INIT_IMAGES, shuffle=True, seed=seed)
        unit_variance_init_(model, next(iter(sample))[0].to(device))
    step_fn = _Stepper.for_recipe(model, recipe, device, steps_per_epoch, channels_last)
    if callback:
        callback.on_start(recipe.epochs, steps_per_epoch)
    history: list[dict[str, float]] = []
    best: tuple[float, float] | None = None  # (val top-1, -val loss): higher is better
    best_state: dict[str, torch.Tensor] = {}
    best_epoch = 0
    started = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum, correct, seen = _train_epoch(model, loader, step_fn, epoch=epoch, callback=callback)
        if not torch.isfinite(loss_sum):
            raise BenchError(
                f"training diverged: the loss became {loss_sum.item()} in epoch {epoch}",
                "try another --seed, or a gentler recipe (lower learning rate)",
            )
        val = evaluate(
            model,
            splits.val,
            device=device,
            batch_size=max(256, recipe.batch_size),
            amp=step_fn.amp,
            channels_last=channels_last,
        )
        entry = {
            "epoch": epoch,
            "train_loss": (loss_sum / seen).item(),
            "train_top1": 100.0 * correct.item() / seen,
            "val_loss": val.loss,
            "val_top1": val.top1,
            "lr": step_fn.optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - epoch_start,
        }
        history.append(entry)
        score = (val.top1, -val.loss)
        if best is None or score > best:
            best, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if callback:
            callback.on_epoch_end(entry)
    model.load_state_dict(best_state)
    return TrainResult(
        history=history,
        best_epoch=best_epoch,
        best_val_top1=history[best_epoch - 1]["val_top1"],
        seconds=time.perf_counter() - started,
        trainable=trainable,
    )


@dataclass
class _Stepper:
    """One optimization step: forward under autocast, scaled backward, clipping, schedule."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    criterion: nn.Module
    grad_clip_norm: float | None
    device: torch.device
    amp: bool
    channels_last: bool

    @classmethod
    def for_recipe(
        cls,
        model: nn.Module,
        recipe: Recipe,
        device: torch.device,
        steps_per_epoch: int,
        channels_last: bool,
    ) -> _Stepper:
        optimizer = build_optimizer(model, recipe)
        amp = recipe.amp and device.type == "cuda"
        return cls(
            optimizer=optimizer,
            scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor_fn(recipe, steps_per_epoch)),
            scaler=torch.amp.GradScaler("cuda", enabled=amp and amp_dtype() == torch.float16),
            criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
            grad_clip_norm=recipe.grad_clip_norm,
            device=device,
            amp=amp,
            channels_last=channels_last,
        )

    def __call__(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch; returns the (detached) loss and the number of correct predictions."""
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast_context(self.device, self.amp):
            logits = model(images)
            loss = self.criterion(logits.float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), (logits.detach().argmax(dim=1) == labels).sum()


def _train_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    step_fn: _Stepper,
    *,
    epoch: int,
    callback: TrainCallback | None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One pass over ``loader``; returns the summed loss, correct count and images seen.

    Sums stay on the device (no sync per step) unless a callback wants running figures.
    """
    set_train_mode(model)
    started = time.perf_counter()
    loss_sum = torch.zeros((), device=step_fn.device)
    correct = torch.zeros((), device=step_fn.device)
    seen = 0
    for step, (images, labels) in enumerate(loader, start=1):
        loss, hits = step_fn(model, images, labels)
        seen += labels.shape[0]
        loss_sum += loss * labels.shape[0]
        correct += hits
        if callback:
            elapsed = max(time.perf_counter() - started, 1e-9)
            top1 = 100.0 * correct.item() / seen
            callback.on_step(epoch, step, (loss_sum / seen).item(), top1, seen / elapsed)
    return loss_sum, correct, seen


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD or AdamW with weight decay on weights only (not on biases and norm parameters)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    groups: list[dict[str, Any]] = [
        {"params": decay, "weight_decay": recipe.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    return torch.optim.AdamW(groups, lr=recipe.lr)


def lr_factor_fn(recipe: Recipe, steps_per_epoch: int) -> Callable[[int], float]:
    """Step -> multiplier of the base rate: linear warm-up, then cosine to zero or constant."""
    total = recipe.epochs * steps_per_epoch
    warmup = min(int(recipe.warmup_epochs * steps_per_epoch), total - 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if recipe.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
