"""Output and cache locations, checked before the work that fills them.

Every command that writes (a run directory, the checkpoint cache, a recipe file, figures)
asks here first, before any data is loaded or model trained: a location that is a file, on
a read-only file system, immutable or not writable is a :class:`~bench.errors.BenchError`
naming the path and what is wrong with it, instead of a crash after the expensive part.

The check creates nothing the caller did not ask for: a missing directory is judged by its
nearest existing ancestor, and writability is probed with a temporary file that is removed
at once (the permission bits alone say nothing when running as root, and nothing about
read-only mounts or ``chattr +i``).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from bench.errors import BenchError

_PROBE_PREFIX = ".cnnbench-probe-"
_A_FOLDER = "pass a directory path (missing directories are created)"
_OTHER = "pass a location you can write to"
# Linux inode flags (linux/fs.h): FS_IOC_GETFLAGS reads them; immutable and append-only refuse new entries.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20


def check_writable_dir(path: str | Path, label: str) -> Path:
    """``path`` if it is a directory this process can create files in, or one it can create.

    ``label`` names the location for the message, e.g. ``"--out"`` or ``"checkpoint cache"``.
    """
    path = Path(path).expanduser()
    _check_folder(path, path, label)
    return path


def check_writable_file(path: str | Path, label: str) -> Path:
    """``path`` if a file can be (re)written there: not a directory, in a writable or creatable folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise BenchError(f"{label} {path} is a directory, not a file", f"pass a file path for {label}")
    if _exists(path) and not os.access(path, os.W_OK):
        raise BenchError(f"{label} {path} cannot be replaced (not writable or immutable)", f"pass another {label}")
    _check_folder(path, path.parent, label)
    return path


def _check_folder(target: Path, folder: Path, label: str) -> None:
    """Raise unless files can be created in ``folder`` (or in what creating it would start from)."""
    existing = folder
    while not _exists(existing):
        if existing.is_symlink():
            raise BenchError(f"{label} {target} cannot be created: {existing} is a broken symbolic link", _OTHER)
        if existing.parent == existing:
            break
        existing = existing.parent
    where = f"{label} {target}" if existing == target else f"{label} {target} cannot be created: {existing}"
    if not existing.is_dir():
        raise BenchError(f"{where} is a file" + (", not a directory" if existing == target else ""), _A_FOLDER)
    problem = _unwritable(existing)
    if problem is not None:
        raise BenchError(f"{where} {problem}", _OTHER)


def _exists(path: Path) -> bool:
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except NotADirectoryError:  # a component above is a file: the walk up finds it
        return False
    return True


def _unwritable(directory: Path) -> str | None:
    """Why no file can be created in the existing ``directory``, or None when one can."""
    try:
        fd, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=directory)
    except OSError as exc:
        return _reason(directory, exc)
    os.close(fd)
    os.unlink(probe)
    return None


def _reason(directory: Path, exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "is on a read-only file system"
    if exc.errno == errno.EPERM and _inode_flags(directory) & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
        return "is immutable (chattr +i): no file can be created in it"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "is not writable (permission denied)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "is on a full file system (no space left)"
    return f"is not writable ({exc.strerror or exc})"


def _inode_flags(directory: Path) -> int:
    """The Linux inode flags of ``directory`` (``lsattr``), 0 where they cannot be read."""
    try:
        import fcntl

        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        return 0
    try:
        return int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], "little")
    except OSError:
        return 0
    finally:
        os.close(fd)
