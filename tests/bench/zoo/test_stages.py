"""Stages: every run of same-size blocks with a convolution, each with all the blocks it holds."""

from __future__ import annotations

import torch
from torch import nn

from bench.profiling.catalog import DataInput, blank_model
from bench.zoo import create_model
from bench.zoo.stages import StageRun, stage_runs

DIGITS = DataInput(in_chans=1, image_size=32, num_classes=10)


def runs_of(model: nn.Module) -> list[StageRun]:
    return stage_runs(model, torch.zeros(1, *model.bench_cfg.input_size))


def test_lenet5_has_c1_c3_and_c5_and_poolings_join_the_next_stage() -> None:
    runs = runs_of(create_model("lenet5", num_classes=10, in_chans=1, input_size=32))
    assert [r.blocks for r in runs] == [
        ("features.0", "features.1"),
        ("features.2", "features.3", "features.4"),
        ("features.5", "features.6", "features.7", "features", "pool"),  # C5 is 1x1: still a stage
    ]
    assert [r.shape for r in runs] == [(6, 28, 28), (16, 10, 10), (120, 1, 1)]


def test_the_resnet_stem_belongs_to_the_first_stage_and_a_stage_is_named_after_its_layer() -> None:
    runs = runs_of(create_model("resnet20", num_classes=10, in_chans=1, input_size=32))
    assert [r.name for r in runs] == ["layer1", "layer2", "layer3"]
    assert runs[0].blocks[:3] == ("conv1", "bn1", "relu")


def test_an_opened_sequential_adds_no_stage_of_its_own() -> None:
    # VGG's `features` finishes after its last max-pool, at 1x1: its convolutions were counted already
    runs = runs_of(blank_model("vgg11_bn", DIGITS))
    assert [r.shape[1] for r in runs] == [32, 16, 8, 4, 2]
    assert "features" not in {block for run in runs for block in run.blocks}


def test_the_mode_is_restored() -> None:
    model = create_model("lenet5", num_classes=10, in_chans=1, input_size=32).train()
    runs_of(model)
    assert model.training
