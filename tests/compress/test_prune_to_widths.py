import copy

import pytest
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


@pytest.mark.parametrize("net", ["lenet", "resnet20", "grouped_net", "aux_net"])
def test_one_trace_narrows_like_a_fresh_trace(net, request):
    from compress.pruning import Narrower

    if net in ("lenet", "resnet20"):
        torch.manual_seed(0)
        model = create_model("lenet5" if net == "lenet" else "resnet20", num_classes=10, in_chans=3, input_size=32)
    else:
        model = request.getfixturevalue(net)
    inputs = torch.randn(1, 3, 32, 32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    narrower = Narrower(model, inputs)
    assert narrower.reuses_trace
    names = list(narrower.groups)[:3]
    for name in names + names[:1]:  # the first again: the working copy was put back whole
        kept = max(1, narrower.groups[name].slice_width // 2)
        narrowed = narrower.narrowed(name, kept)
        fresh = copy.deepcopy(model)
        prune_to_widths(fresh, {name: kept}, inputs)
        assert [p.shape for p in narrowed.parameters()] == [p.shape for p in fresh.parameters()]
        narrowed.eval(), fresh.eval()
        with torch.no_grad():
            assert torch.allclose(narrowed(inputs), fresh(inputs), atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is untouched


def test_a_model_pruning_cannot_follow_is_a_bench_error(pad_net):
    from bench.errors import BenchError
    from compress.pruning import Narrower

    with pytest.raises(BenchError, match="cannot prune this model"):
        Narrower(pad_net, torch.randn(1, 3, 8, 8))
