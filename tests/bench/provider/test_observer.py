"""PhaseClock: each phase announced to the observer, its seconds summed over repeats."""

from __future__ import annotations

import pytest

from bench.provider.observer import PhaseClock, SilentProgress


class Heard(SilentProgress):
    def __init__(self) -> None:
        self.phases: list[str] = []

    def on_phase(self, phase: str) -> None:
        self.phases.append(phase)


def test_phases_are_announced_and_summed_even_when_they_raise() -> None:
    heard = Heard()
    clock = PhaseClock(heard)
    with clock.phase("evaluate"):
        pass
    with pytest.raises(RuntimeError), clock.phase("finetune"):
        raise RuntimeError("a failed fine-tune still took time")
    with clock.phase("evaluate"):
        pass
    assert heard.phases == ["evaluate", "finetune", "evaluate"]
    assert set(clock.seconds) == {"evaluate", "finetune"} and all(s >= 0 for s in clock.seconds.values())
    assert SilentProgress().train_callback() is None
