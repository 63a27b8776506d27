"""Test-wide settings: no GPU assumed, no user cache touched, headless plotting; file-system faults."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

OUTLIER = 1000.0  # one weight per output channel this large crushes that channel's int8 scale


def _outlier_net_class() -> type:
    """Defined on first use, so collecting the tests does not import torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class OutlierNet(nn.Module):
        """conv, conv, pool, linear; conv1's last channel is dead (ReLU of -10) and every weight
        conv2 gives it is ``outlier``. The float model ignores the dead channel; per-channel int8
        rounds each of conv2's real weights to zero. No gradient reaches the dead channel or its
        weights, so training keeps both (AdamW's decay shrinks them by a percent or so)."""

        outlier = OUTLIER

        def __init__(self, *, num_classes: int = 10, in_chans: int = 1, input_size: int = 8) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_chans, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc = nn.Linear(16, num_classes)
            with torch.no_grad():
                self.conv1.weight[7].zero_()
                self.conv1.bias[7] = -10.0
                self.conv2.weight[:, 7] = OUTLIER

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.relu(self.conv2(F.relu(self.conv1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return OutlierNet


@pytest.fixture(scope="session")
def outlier_net_class() -> type:
    """A tiny CNN int8 breaks unless conv2 stays float (see ``OutlierNet``)."""
    return _outlier_net_class()


@pytest.fixture(scope="session")
def outlier_weights(outlier_net_class: type, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict of ``OutlierNet`` trained on digits' training split at 8x8 (full-batch Adam,
    two seconds; the quick recipe would take minutes to train it): load it with
    ``--weights PATH`` and ``--input-size 8``. Its float top-1 is above 80%."""
    import torch
    import torch.nn.functional as F

    from bench.data import load_splits

    train = load_splits("digits", input_size=8).train_plain
    images = torch.stack([train[i][0] for i in range(len(train))])
    labels = torch.tensor([int(train[i][1]) for i in range(len(train))])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = outlier_net_class()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("outlier") / "outlier_net.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture
def outlier_model(outlier_net_class: type) -> Iterator[str]:
    """``OutlierNet`` registered in the zoo for the test (use :func:`outlier_weights` with it)."""
    from bench.zoo.registry import ModelSpec, add_spec, remove_spec

    spec = ModelSpec(
        name="test_outlier_net",
        family="test",
        year=2026,
        paper="-",
        builder=outlier_net_class,
        native_input_size=8,
        min_input_size=1,
        small_input="native",
        small_input_note="",
        classifier=("fc",),
        norm=None,
        groups=("test",),
    )
    add_spec(spec)
    yield spec.name
    remove_spec(spec.name)


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


def _flip_exponent_bits(path: Path) -> int:
    """Flip the lowest exponent bit of every float32 in the state dict saved in ``path`` (a cache
    file: a checkpoint or a pruned model), saving it back as a valid zip whose other entries, the
    stored digest among them, are unchanged. Returns how many floats changed."""
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    changed = 0
    for tensor in payload["state_dict"].values():
        if tensor.dtype == torch.float32:
            bits = tensor.view(torch.int32)
            bits ^= 1 << 23  # times 2 or times 1/2: plausible weights, wrong ones
            changed += tensor.numel()
    torch.save(payload, path)
    return changed


@pytest.fixture
def flip_exponent_bits() -> Callable[[Path], int]:
    """``flip_exponent_bits(path)``: damage every float of a cached model file, keeping it a valid zip."""
    return _flip_exponent_bits


@pytest.fixture
def make_immutable() -> Iterator[Callable[[Path], Path]]:
    """``make_immutable(path)``: ``chattr +i`` on ``path`` for the test (skipped where that is not
    possible: not root, or a file system without inode flags); lifted again afterwards."""
    done: list[Path] = []

    def immutable(path: Path) -> Path:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not possible here (needs root and an ext4-like file system)")
        done.append(path)
        return path

    try:
        yield immutable
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.fixture
def make_readonly() -> Iterator[Callable[[Path], Path]]:
    """``make_readonly(src)``: ``src`` bind-mounted read-only at a sibling folder, whose path is
    returned (skipped where mounting is not allowed); unmounted afterwards."""
    mounts: list[Path] = []

    def readonly(src: Path) -> Path:
        target = src.with_name(src.name + "-ro")
        target.mkdir()
        if subprocess.run(["mount", "--bind", str(src), str(target)], capture_output=True).returncode != 0:
            pytest.skip("a read-only bind mount is not possible here (needs root and mount rights)")
        mounts.append(target)
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], capture_output=True).returncode != 0:
            pytest.skip("remounting read-only is not possible here")
        return target

    try:
        yield readonly
    finally:
        for target in reversed(mounts):
            subprocess.run(["umount", str(target)], capture_output=True)


_HOLDER = """
import sys
from pathlib import Path
from bench.results.lock import run_dir_lock
with run_dir_lock(Path(sys.argv[1]), holder="bench run", fix="wait"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """``hold_lock(run_dir)``: another process holding the run directory's lock until the test ends
    (or until it is killed); returns the process once it holds the lock."""
    import bench

    root = str(Path(bench.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    started: list[subprocess.Popen[str]] = []

    def hold(run_dir: Path) -> subprocess.Popen[str]:
        import sys

        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(run_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    try:
        yield hold
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
