import torch
from torch import nn

from compress.latency_search import GroupRow, greedy_path
from compress.latency_sensitivity import loss_increase, mean_loss


class TwoBranch(nn.Module):
    """Two parallel convolutions summed into a classifier; ``dead`` is scaled to nothing, so
    narrowing it costs no loss while narrowing ``live`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.live = nn.Conv2d(1, 16, 3, padding=1)
        self.dead = nn.Conv2d(1, 16, 3, padding=1)
        self.live_head = nn.Conv2d(16, 8, 1)
        self.dead_head = nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(8, 4)
        with torch.no_grad():
            self.dead_head.weight.mul_(1e-6)
            self.fc.weight.mul_(50.0)  # confident logits: its own labels cost it little loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.live_head(torch.relu(self.live(x))) + self.dead_head(torch.relu(self.dead(x)))
        return self.fc(y.mean((2, 3)))


def _batches(model):
    """Images labelled by the full model itself: its loss is low, and narrowing what it
    relies on raises it."""
    g = torch.Generator().manual_seed(0)
    images = [torch.randn(16, 1, 8, 8, generator=g) for _ in range(2)]
    with torch.no_grad():
        return [(x, model(x).argmax(1)) for x in images]


def test_loss_rise_is_measured_per_group_and_width():
    torch.manual_seed(0)
    model = TwoBranch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = loss_increase(
        model, torch.randn(1, 1, 8, 8), {"live": (4, 8), "dead": (4, 8)}, _batches(model), criterion="l1"
    )
    assert set(losses) == {"live", "dead"} and [w for w, _ in losses["live"]] == [4, 8]
    assert all(rise >= 0 for pts in losses.values() for _, rise in pts)
    assert dict(losses["dead"])[4] * 10 < dict(losses["live"])[4]  # what the classifier reads costs loss
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # not changed
    assert mean_loss(model, _batches(model)) > 0


def test_measured_losses_steer_the_path_to_the_group_that_costs_nothing():
    scores = tuple(float(i + 1) for i in range(16))
    points = ((4, 60.0), (8, 80.0), (16, 100.0))  # both groups save alike, equal l1 shares
    plain = greedy_path(100.0, {n: GroupRow(16, points, scores) for n in ("a_free", "b_costly")}, unit=4)
    assert plain.steps[0][0] == "b_costly"  # a tie on l1 alone: broken by name
    rows = {
        "a_free": GroupRow(16, points, scores, losses=((4, 0.001), (8, 0.0))),
        "b_costly": GroupRow(16, points, scores, losses=((4, 2.0), (8, 0.5))),
    }
    path = greedy_path(100.0, rows, unit=4, min_fraction=0.25)
    assert [name for name, _ in path.steps[:3]] == ["a_free"] * 3


def test_a_measured_loss_that_falls_with_width_is_read_as_flat():
    scores = tuple(float(i + 1) for i in range(16))
    row = GroupRow(16, ((8, 50.0), (16, 100.0)), scores, losses=((4, 0.2), (8, 0.5)))  # noise: narrower "better"
    assert row.importance_lost(4) >= row.importance_lost(8) > row.importance_lost(16) == 0.0
