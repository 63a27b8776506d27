"""unit_variance_init_: every layer's output at unit std, the model's own weight directions kept."""

from __future__ import annotations

import torch
from torch import nn

from bench.training.data_init import unit_variance_init_


def plain_net() -> nn.Sequential:
    """A deep plain stack whose signal vanishes under a small Gaussian init, like VGG's head."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(1, 8, 3, padding=1), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()]
    layers += [nn.Flatten(), nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)]
    net = nn.Sequential(*layers)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)
    return net


def test_every_layer_ends_at_unit_output_std() -> None:
    net = plain_net().train()
    images = torch.randn(64, 1, 8, 8)
    assert net.eval()(images).std() < 1e-6  # vanished before
    net.train()
    layers = {name: m for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    before = {name: m.weight.clone() for name, m in layers.items()}
    factors = unit_variance_init_(net, images)
    assert net.training  # mode restored
    assert set(factors) == set(before) and all(f > 1 for f in factors.values())
    outputs = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, out, name=name: outputs.__setitem__(name, out.std().item()))
        for name, m in layers.items()
    ]
    net.eval()(images)
    for hook in hooks:
        hook.remove()
    assert all(abs(std - 1) < 1e-3 for std in outputs.values())
    for name, module in layers.items():  # same direction, new scale
        assert torch.allclose(module.weight, before[name] * factors[name])


def test_a_layer_with_no_signal_is_left_alone() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    nn.init.zeros_(net[0].weight)
    nn.init.zeros_(net[0].bias)
    factors = unit_variance_init_(net, torch.randn(8, 4))
    assert "0" not in factors and torch.equal(net[0].weight, torch.zeros(4, 4))
