from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import torch

from bench.profiling.environment import collect_environment, cpu_model, device_name, git_commit, git_dirty

CONTRACT_RUN_FIELDS = (
    "created", "argv", "git_commit", "python", "torch", "torchvision", "cuda", "cudnn",
    "cpu_model", "cpu_threads", "gpu_name",
)  # fmt: skip


def test_environment_has_the_contract_fields() -> None:
    env = collect_environment(["bench", "profile", "lenet5"])
    assert set(CONTRACT_RUN_FIELDS) <= set(env)
    assert env["argv"] == ["bench", "profile", "lenet5"]
    assert env["torch"] == torch.__version__
    assert env["cpu_threads"] == torch.get_num_threads()
    assert env["cudnn_benchmark"] == torch.backends.cudnn.benchmark
    assert env["tf32_matmul"] == torch.backends.cuda.matmul.allow_tf32
    assert env["quantized_engine"] == torch.backends.quantized.engine
    created = datetime.fromisoformat(env["created"])
    assert created.utcoffset() == timedelta(0)
    for name in ("timm", "fvcore", "torch_pruning"):
        assert env[name]  # installed dependencies have versions


def test_cpu_names() -> None:
    assert cpu_model().strip()
    assert device_name(torch.device("cpu")) == cpu_model()


def test_git_commit_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    assert git_dirty(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_and_dirty_flag_of_a_repository(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD")
    assert git_dirty(tmp_path) is False
    (tmp_path / "a.txt").write_text("2")
    assert git_dirty(tmp_path) is True
