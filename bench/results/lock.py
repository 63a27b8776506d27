"""One writer per run directory: an OS lock held for as long as a process writes it.

`bench run` (fresh or ``--resume``) and `bench report` take an exclusive ``flock`` on
``<run dir>/.bench.lock`` *before* they look at what the directory holds, and keep it until
they are done, so two of them can never both pass the "already holds a run" check and write
the same cells. The kernel drops the lock when its process dies, SIGKILL included: a stale
lock never needs clearing (a lock file left behind by a killed run means nothing). A second
writer is refused at once, naming the holder's pid and command, which the holder writes
into the lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import BenchError

LOCK_FILE = ".bench.lock"
_HOLDER_WAIT_S = 1.0  # how long to wait for a holder that has just locked to write its pid


@contextmanager
def run_dir_lock(run_dir: str | Path, *, holder: str, fix: str) -> Iterator[Path]:
    """Hold the write lock of ``run_dir`` (created when missing) inside the block.

    ``holder`` says who writes (``"bench run"``); ``fix`` is what a refused second writer is
    told to do. A directory this call created is removed again if it is left empty.
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path, holder, fix)
    except OSError as exc:
        raise BenchError(
            f"cannot lock {path} ({exc.strerror or exc})", "pass a run directory you can write to"
        ) from None
    try:
        yield run_dir
    finally:
        _release(fd, path)
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only when nothing was written


def _acquire(path: Path, holder: str, fix: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BenchError(f"{path.parent} is being written by {_describe(path)}", fix) from None
        # A holder that just finished unlinks the file it locked: make sure ours is the current one.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {holder}\n".encode())
    return fd


def _release(fd: int, path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()  # while still locked: nobody can lock the old file and miss the new one
    os.close(fd)


def _describe(path: Path) -> str:
    """The holder as its lock file names it: ``"bench run (pid 123)"``."""
    deadline = time.monotonic() + _HOLDER_WAIT_S
    while True:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        if text or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "another process"
    return f"{command or 'another process'} (pid {pid})"
