"""Training recipes as data: a base, then data-set and family overrides, layered in order.

Each table maps ``"*"`` (every preset) or a preset name to the fields it changes (plus
``epochs_factor``: families that need longer runs scale the data set's epochs). A preset
applies its layers in order (``PRESET_LAYERS``: ``standard`` is a longer ``quick``, so it
takes the ``quick`` entries first), and within a layer the base table, then the data set's
overrides, then the family's, then those for the family *without normalization layers*
(key ``"<family>:no-norm"``: plain VGG needs a gentler rate and clipped gradients to start
at all). An explicit ``--epochs`` comes last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from bench.errors import BenchError, suggest
from bench.zoo.spec import ModelSpec

Preset = Literal["quick", "standard", "full"]
PRESETS: tuple[str, ...] = ("quick", "standard", "full")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, schedule, regularization. ``amp``/``channels_last``: CUDA only.

    The learning rate warms up linearly over ``warmup_epochs`` then follows ``schedule``
    (cosine decays to zero at the last step). Weight decay skips biases and norm weights.
    """

    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    epochs: int
    batch_size: int
    schedule: str
    warmup_epochs: float
    label_smoothing: float
    grad_clip_norm: float | None
    amp: bool
    channels_last: bool
    nesterov: bool = False
    data_init: bool = False  # LSUV-style unit-variance rescaling before training (plain nets)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise BenchError(f"unknown optimizer {self.optimizer!r}", f"use one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise BenchError(f"unknown schedule {self.schedule!r}", f"use one of {', '.join(SCHEDULES)}")
        if self.epochs < 1:
            raise BenchError(f"epochs must be at least 1, got {self.epochs}", "pass --epochs 1 or more")
        if self.batch_size < 1 or self.lr <= 0:
            raise BenchError("batch size and learning rate must be positive", "fix the recipe")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


Overrides = dict[str, Any]

# Which layers of each table a preset applies, in order: `standard` is a longer `quick`
# (same optimizer and rates), `full` the papers' SGD recipe. A later layer outranks an
# earlier one, so a "*" entry should only hold fields that no preset layer sets.
PRESET_LAYERS: dict[str, tuple[str, ...]] = {
    "quick": ("*", "quick"),
    "standard": ("*", "quick", "standard"),
    "full": ("*", "full"),
}

BASE: dict[str, Overrides] = {
    # quick: minutes on a 2-core CPU for the whole zoo on digits (~20 steps per epoch).
    "*": dict(
        optimizer="adamw",
        lr=2e-3,
        momentum=0.9,
        weight_decay=0.05,
        epochs=10,
        batch_size=64,
        schedule="cosine",
        warmup_epochs=1.0,
        label_smoothing=0.1,
        grad_clip_norm=None,
        amp=True,
        channels_last=True,
    ),
    # standard: three times longer, for tighter accuracy figures.
    "standard": dict(epochs=30, warmup_epochs=2.0),
    # full: the classic SGD + momentum recipe of the papers (step decay replaced by cosine).
    "full": dict(
        optimizer="sgd",
        lr=0.1,
        weight_decay=5e-4,
        nesterov=True,
        epochs=100,
        batch_size=128,
        warmup_epochs=5.0,
    ),
}

DATASET_RECIPES: dict[str, dict[str, Overrides]] = {
    # 60k/50k training images: a quick run is a few epochs, a full one the CIFAR 200.
    "mnist": {"quick": dict(epochs=3), "standard": dict(epochs=15), "full": dict(epochs=60)},
    "fashion-mnist": {"quick": dict(epochs=3), "standard": dict(epochs=20), "full": dict(epochs=100)},
    "cifar10": {"quick": dict(epochs=5), "standard": dict(epochs=50), "full": dict(epochs=200)},
    "cifar100": {"quick": dict(epochs=5), "standard": dict(epochs=50), "full": dict(epochs=200)},
    # ImageNet: torchvision's reference schedule for "full" (batch 256, lr 0.1, wd 1e-4, 90 epochs).
    "imagenet": {
        "quick": dict(epochs=1),
        "standard": dict(epochs=16, batch_size=256),
        "full": dict(epochs=90, batch_size=256, weight_decay=1e-4, nesterov=False),
    },
}

FAMILY_RECIPES: dict[str, dict[str, Overrides]] = {
    # tanh LeNet-5 has no normalization but only 61k parameters: small batches, a brisk rate.
    "lenet": {
        "quick": dict(epochs_factor=2.0, batch_size=32, lr=3e-3, weight_decay=1e-4),
        "full": dict(lr=0.05),
    },
    # VGG's head (three linear layers at std 0.01) starts small even with batch norm: 15
    # epochs, not 10. At AdamW's 2e-3 after one warm-up epoch the deepest, vgg19_bn, trains
    # erratically (86.1% test, train accuracy 81% at the end); 1e-3 warmed up over three
    # epochs: 99.4%. (Data init hurts here.)
    "vgg": {"quick": dict(epochs_factor=1.5, lr=1e-3, warmup_epochs=3.0)},
    # Plain VGG (no batch norm) starts with vanishing signals under torchvision's init (logits
    # of std ~3e-4 at 1x32x32): SGD stalls at chance and AdamW alone needs 30+ epochs (vgg19:
    # 86.9% after 30). Rescaling each layer to unit output variance on real images first
    # (data_init, LSUV) plus a warmed-up AdamW and clipping: vgg19 99.2% in 12 epochs.
    "vgg:no-norm": {
        "*": dict(grad_clip_norm=2.0, data_init=True),
        "quick": dict(lr=5e-4, warmup_epochs=3.0, epochs_factor=1.2, batch_size=32),
        "standard": dict(warmup_epochs=3.0),
        "full": dict(optimizer="adamw", lr=5e-4, weight_decay=0.05, nesterov=False),
    },
    "alexnet": {"*": dict(grad_clip_norm=5.0), "quick": dict(lr=5e-4), "full": dict(lr=0.01)},
    "zfnet": {"*": dict(grad_clip_norm=5.0), "quick": dict(lr=5e-4), "full": dict(lr=0.01)},
    # NiN (bench/zoo/nin.py) leaves out the released models' ReLU on its class maps: with it,
    # whole classes died under AdamW (lr 1e-3: all ten, stuck at 10%; lr 5e-4: one or two, a
    # plateau near 88%). Without it this recipe reaches 98% in 12 epochs; the slow warm-up to a
    # small rate is kept as the gentlest start.
    "nin": {
        "*": dict(grad_clip_norm=2.0),
        "quick": dict(lr=5e-4, warmup_epochs=3.0, epochs_factor=1.2, batch_size=32),
        "standard": dict(warmup_epochs=3.0),
        "full": dict(lr=0.01),
    },
}


def get_recipe(spec: ModelSpec, preset: str, dataset: str, *, epochs: int | None = None) -> Recipe:
    """The recipe for ``spec``'s family under ``preset`` on ``dataset`` (see module doc)."""
    if preset not in PRESETS:
        raise BenchError(f"unknown preset {preset!r}{suggest(preset, PRESETS)}", "use quick, standard or full")
    tables = [BASE, DATASET_RECIPES.get(dataset, {})] + [FAMILY_RECIPES.get(k, {}) for k in family_keys(spec)]
    values: Overrides = {}
    for layer in PRESET_LAYERS[preset]:  # layer by layer, so standard's epochs outrank quick's
        for table in tables:
            values.update(table.get(layer, {}))
    factor = values.pop("epochs_factor", 1.0)  # families scale the data set's epoch count
    values["epochs"] = max(1, round(values["epochs"] * factor)) if epochs is None else int(epochs)
    return Recipe(**values)


def family_keys(spec: ModelSpec) -> list[str]:
    """The FAMILY_RECIPES keys that apply to ``spec``, most general first."""
    keys = [spec.family]
    if spec.norm is None:
        keys.append(f"{spec.family}:no-norm")
    return keys


def pruned_recipe(recipe: Recipe) -> Recipe:
    """Fine-tuning after structured pruning: the whole training schedule again, from the pruned weights.

    A 50% channel ratio removes about three quarters of the MACs, and right after pruning the
    network is near chance; a tenth of the rate for a third of the epochs (:func:`finetune_recipe`)
    leaves ResNet-20 on digits 40 points short. Re-running the full schedule on the surviving
    filters (as torch-pruning's own benchmarks do) recovers the baseline within a point for
    LeNet-5, ResNet-20, ResNet-18 and VGG-11-BN. No data-dependent init: it would rescale the
    surviving layers.
    """
    return replace(recipe, data_init=False)


def finetune_recipe(recipe: Recipe) -> Recipe:
    """Fine-tuning trained weights (after pruning, or for transfer): a tenth of the rate, a third
    of the epochs, no warm-up, and no data-dependent init (it would rescale the trained layers)."""
    return replace(
        recipe,
        lr=recipe.lr * 0.1,
        epochs=max(1, round(recipe.epochs / 3)),
        warmup_epochs=0.0,
        data_init=False,
    )
