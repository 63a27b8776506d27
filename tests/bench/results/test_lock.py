"""bench.results.lock: one writer per run directory, held across processes, released by the kernel."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.results.lock import LOCK_FILE, run_dir_lock


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path, hold_lock) -> None:
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    with pytest.raises(BenchError) as info, run_dir_lock(run_dir, holder="bench report", fix="wait for it"):
        pass
    assert str(info.value) == f"{run_dir} is being written by bench run (pid {holder.pid}); wait for it"
    assert (run_dir / LOCK_FILE).read_text() == f"{holder.pid} bench run\n"


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path: Path, hold_lock) -> None:
    run_dir = tmp_path / "run"
    holder = hold_lock(run_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (run_dir / LOCK_FILE).exists()  # the file stays; the kernel dropped the lock with the process
    with run_dir_lock(run_dir, holder="bench run", fix="-"):
        assert (run_dir / LOCK_FILE).read_text().split()[0].isdigit()
    assert not (run_dir / LOCK_FILE).exists()


def test_the_lock_is_exclusive_within_a_process_too_and_is_released_on_exit(tmp_path: Path) -> None:
    held = run_dir_lock(tmp_path, holder="bench run", fix="-")
    again = run_dir_lock(tmp_path, holder="bench run", fix="-")
    with held, pytest.raises(BenchError, match="is being written by bench run"), again:
        pass
    with run_dir_lock(tmp_path, holder="bench run", fix="-"):
        pass


def test_a_directory_the_lock_created_goes_when_nothing_was_written(tmp_path: Path) -> None:
    with run_dir_lock(tmp_path / "new", holder="bench run", fix="-"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
    with run_dir_lock(tmp_path / "kept", holder="bench run", fix="-"):
        (tmp_path / "kept" / "results.db").write_text("")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["results.db"]
