"""Each structure in the zoo yields every compressed variant and runs it (issue 4's acceptance,
at 1x32x32 and 10 classes): the pruned float model forward and backward in train mode, the
int8 models forward, each with the right output shape.

One model per structure keeps this within the test budget; the same check over every model
in `all` (deeper ResNets, every VGG, AlexNet, ZFNet) is
``python benchmarks/compress_speedups.py --speed none`` (about a minute at one thread)."""

from __future__ import annotations

import pytest
import torch

from bench.zoo import create_model
from compress.apply import apply_variant
from compress.quantization import quantize_int8, random_calibration_batches

# plain + BN, tanh and average pools, 1x1-conv classifier, residual additions, option-A
# shortcuts, grouped convolutions, concatenations (Inception, with average pools; DenseNet)
REPRESENTATIVES = (
    "vgg11_bn",
    "lenet5",
    "nin",
    "resnet18",
    "resnet20",
    "resnext50_32x4d",
    "googlenet",
    "inception_v3",
    "densenet121",
)
MODELS = list(REPRESENTATIVES)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_model_yields_every_variant(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=1, input_size=32)
    shape = model.bench_cfg.input_size
    inputs = torch.randn(2, *shape)
    calibration = random_calibration_batches(shape, n=4, batch_size=4)

    int8 = apply_variant(model, "int8", example_inputs=inputs[:1], calib_batches=calibration)
    pruned = apply_variant(model, "pruned-50", example_inputs=inputs[:1])
    # pruned-50+int8 is this pruned model quantized (apply_variant's composition: test_apply.py)
    pruned_int8 = quantize_int8(pruned.model, calibration)

    assert pruned.prune.macs_fraction <= 0.5
    pruned.model.train()
    logits = pruned.model(inputs)
    logits.sum().backward()
    assert logits.shape == (2, 10)
    with torch.no_grad():
        assert int8.model(inputs).shape == pruned_int8.model(inputs).shape == (2, 10)
    assert int8.quant.quantized_modules > 0 and pruned_int8.quantized_modules > 0
