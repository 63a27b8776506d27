"""bench.writable: output and cache locations judged before the work, without creating anything."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from bench import writable
from bench.errors import BenchError
from bench.writable import check_writable_dir, check_writable_file


def _refused(check, path: Path) -> str:
    with pytest.raises(BenchError) as info:
        check(path, "--out")
    return str(info.value)


def test_an_existing_or_creatable_directory_passes_and_nothing_is_created(tmp_path: Path) -> None:
    assert check_writable_dir(tmp_path, "--out") == tmp_path
    assert check_writable_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert check_writable_file(tmp_path / "c" / "best.json", "--out") == tmp_path / "c" / "best.json"
    assert list(tmp_path.iterdir()) == []  # the probe file is gone, no folder was made


def test_a_file_where_a_directory_must_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert _refused(check_writable_dir, tmp_path / "f") == (
        f"--out {tmp_path / 'f'} is a file, not a directory; pass a directory path (missing directories are created)"
    )
    message = _refused(check_writable_dir, tmp_path / "f" / "sub" / "run")
    assert f"--out {tmp_path / 'f' / 'sub' / 'run'} cannot be created: {tmp_path / 'f'} is a file" in message
    assert f"cannot be created: {tmp_path / 'f'} is a file" in _refused(check_writable_file, tmp_path / "f" / "x.json")
    assert (tmp_path / "f").read_text() == "x"


def test_a_directory_where_a_file_must_be_is_named(tmp_path: Path) -> None:
    assert f"--out {tmp_path} is a directory, not a file" in _refused(check_writable_file, tmp_path)


def test_a_broken_symbolic_link_is_named(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    assert "is a broken symbolic link" in _refused(check_writable_dir, tmp_path / "link")


def test_an_immutable_directory_is_named(tmp_path: Path, make_immutable) -> None:
    (tmp_path / "locked").mkdir()
    make_immutable(tmp_path / "locked")
    assert "is immutable (chattr +i)" in _refused(check_writable_dir, tmp_path / "locked")
    assert f"cannot be created: {tmp_path / 'locked'} is immutable" in _refused(
        check_writable_dir, tmp_path / "locked" / "run"
    )


def test_an_immutable_file_cannot_be_replaced(tmp_path: Path, make_immutable) -> None:
    target = tmp_path / "best.json"
    target.write_text("{}")
    make_immutable(target)
    assert "cannot be replaced" in _refused(check_writable_file, target)


def test_a_read_only_file_system_is_named(tmp_path: Path, make_readonly) -> None:
    (tmp_path / "src").mkdir()
    mounted = make_readonly(tmp_path / "src")
    assert f"--out {mounted} is on a read-only file system" in _refused(check_writable_dir, mounted)
    assert "is on a read-only file system" in _refused(check_writable_file, mounted / "x.json")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EACCES, "is not writable (permission denied)"),
        (errno.ENOSPC, "is on a full file system (no space left)"),
        (errno.EROFS, "is on a read-only file system"),
    ],
)
def test_the_probe_error_says_what_is_wrong(tmp_path: Path, monkeypatch, code: int, reason: str) -> None:
    """Root ignores permission bits, so the probe's failures are simulated here."""

    def refuse(**kwargs):
        raise OSError(code, "simulated")

    monkeypatch.setattr(writable.tempfile, "mkstemp", refuse)
    assert _refused(check_writable_dir, tmp_path) == f"--out {tmp_path} {reason}; pass a location you can write to"
