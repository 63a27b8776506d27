import copy

import torch

from bench.zoo import create_model
from compress.pruning import group_roots, prune_model, prune_to_widths


def _model():
    torch.manual_seed(0)
    return create_model("resnet20", num_classes=10, in_chans=3, input_size=32)


def test_prune_to_widths_sets_each_named_group():
    model = _model()
    inputs = torch.randn(1, 3, 32, 32)
    roots = group_roots(model, inputs)
    assert roots
    name, group = roots[0]
    wanted = {name: group.slice_width // 2}
    got = prune_to_widths(model, wanted, inputs)
    assert got == wanted
    assert model(inputs).shape == (1, 10)


def test_same_widths_as_uniform_pick_same_channels():
    base = _model()
    inputs = torch.randn(1, 3, 32, 32)
    uniform = copy.deepcopy(base)
    result = prune_model(uniform, ratio=0.5, example_inputs=inputs)
    widths = {w.name: w.after for w in result.widths if w.after != w.before}
    explicit = copy.deepcopy(base)
    roots = dict(group_roots(explicit, inputs))
    prune_to_widths(explicit, {n: w for n, w in widths.items() if n in roots}, inputs)
    uniform.eval(), explicit.eval()
    with torch.no_grad():
        assert torch.allclose(uniform(inputs), explicit(inputs), atol=1e-5)
