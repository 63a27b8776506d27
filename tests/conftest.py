"""Test-wide settings: no GPU assumed, no user cache touched, headless plotting."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (none visible to torch)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep checkpoints out of the user's cache directory: one cache per test session."""
    monkeypatch.setenv("CNNBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cnnbench-cache"))
