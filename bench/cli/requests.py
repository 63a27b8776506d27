"""The provider's requests from parsed flags: one reading of ``--dataset``, ``--preset``, ... for every command.

Commands declare the flags they take (:func:`bench.cli.common.add_data_args`,
:func:`~bench.cli.common.add_training_args`, ...); a flag a command does not declare
(``--input-size`` in `bench viz`, ``--epochs`` in `bench tune`) takes the request's default.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from bench.training.requests import DataRequest, TrainingRequest


def data_request(args: argparse.Namespace) -> DataRequest:
    """``--dataset --data-dir --input-size --seed --download --augment --hflip``."""
    from bench.training.requests import DataRequest

    return DataRequest(
        args.dataset,
        data_dir=args.data_dir,
        input_size=getattr(args, "input_size", None),
        seed=args.seed,
        download=args.download,
        augment=getattr(args, "augment", None),
        hflip=getattr(args, "hflip", None),
    )


def training_request(args: argparse.Namespace, device: torch.device, recipe: Any = None) -> TrainingRequest:
    """``--preset --epochs --retrain --cache-dir --damaged-cache`` on the resolved ``device``; ``recipe``: a loaded ``--recipe``."""
    from bench.training.requests import TrainingRequest

    return TrainingRequest(
        preset=args.preset,
        epochs=getattr(args, "epochs", None),
        recipe=recipe,
        retrain=getattr(args, "retrain", False),
        device=device,
        cache_dir=getattr(args, "cache_dir", None),
        on_damaged=getattr(args, "damaged_cache", "retrain"),
    )
