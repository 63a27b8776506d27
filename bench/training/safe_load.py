"""``torch.load(weights_only=True)`` with the real reason when a file is refused.

torch's own message for a refused file is boilerplate that advises unsafe loading and, cut to
one line, drops the cause; a raw pickle also raises UserWarnings. :func:`load_tensors` loads
quietly and, on failure, inspects the file without running it (its magic bytes, and the
pickle's opcodes via :mod:`pickletools`, which only parses) to say what the file is and why
it is refused: ``a raw pickle (protocol 4) that calls unsupported global posix.system``,
``not a zip or pickle file``, ``an empty file``.
"""

from __future__ import annotations

import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80  # first byte of a pickle of protocol 2 or newer
SHOWN_GLOBALS = 3
# Modules whose globals torch's weights-only unpickler may accept (its allow-list names more
# precisely; these only decide which globals are worth naming as the cause).
TRUSTED_ROOTS = frozenset({"torch", "collections", "_codecs", "builtins", "numpy"})
_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
)


def load_tensors(path: str | Path, *, what: str, fix: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, warnings silenced; a refused or unreadable
    file is a one-line BenchError "cannot load {what} {path}: <what the file is and why>"."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchError(f"cannot load {what} {path}: {refusal_reason(path, exc)}", fix) from None


def refusal_reason(path: Path, exc: BaseException) -> str:
    """What ``path`` is and why loading it failed, in a few words (never advice to load it unsafely)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    if not data:
        return "an empty file"
    if data[:4] == ZIP_MAGIC:
        return _zip_reason(path, exc)
    if data[0] == PICKLE_PROTO and len(data) > 1:
        kind = f"a raw pickle (protocol {data[1]})"
        found = _unsafe_globals(data)
        if found:
            return f"{kind} that calls unsupported global {_names(found)}, refused as loading it would run code"
        return f"{kind} that is not a torch state dict ({torch_reason(exc)})"
    return "not a zip or pickle file"


def torch_reason(exc: BaseException) -> str:
    """The informative line of a torch.load failure: the unpickler's own words, without the
    boilerplate around them (which advises loading the file unsafely, or allow-listing its globals)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            text = line[line.index("WeightsUnpickler error:") :]
            if text == "WeightsUnpickler error:" and index + 1 < len(lines):
                text = f"{text} {lines[index + 1]}"
            return text.split(" Please use", 1)[0][:200]
        if "unsupported GLOBAL" in line:
            return line.replace("Trying to load ", "")[:200]
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation", "(1)", "(2)")
    for line in lines:
        if not line.startswith(boilerplate):
            return line[:200]
    return type(exc).__name__


def _zip_reason(path: Path, exc: BaseException) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
            if not pickles:
                return "a zip file that is not a torch archive (no data.pkl)"
            found = _unsafe_globals(archive.read(pickles[0]))
    except (zipfile.BadZipFile, OSError, KeyError) as err:
        return f"a damaged zip file ({err})"
    reason = torch_reason(exc)
    if found:
        said = f" ({reason})" if reason.startswith("WeightsUnpickler") else ""
        return (
            f"a torch archive that calls unsupported global {_names(found)}, refused as loading it would run code{said}"
        )
    return f"a torch archive that could not be read ({reason})"


def _unsafe_globals(pickled: bytes) -> list[str]:
    """The globals a pickle stream references outside :data:`TRUSTED_ROOTS`, in order (parsed, never run)."""
    found: list[str] = []
    strings: list[str] = []  # recent string pushes: STACK_GLOBAL takes the last two
    memo: dict[int, str] = {}
    memoized = 0  # MEMOIZE numbers every object it stores, strings or not
    last_string: str | None = None  # the string on top of the stack, if the last push was one
    try:
        for op, arg, _ in pickletools.genops(pickled):
            name, pushed = op.name, None
            if name in _STRING_OPS:
                pushed = arg if isinstance(arg, str) else str(arg)
            elif name == "MEMOIZE":
                if last_string is not None:
                    memo[memoized] = last_string
                memoized += 1
                pushed = last_string
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                if last_string is not None:
                    memo[int(arg)] = last_string
                pushed = last_string
            elif name in ("BINGET", "LONG_BINGET", "GET") and int(arg) in memo:
                pushed = memo[int(arg)]
            elif name == "GLOBAL":
                found.append(".".join(str(arg).split(" ", 1)))
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            if pushed is not None and name not in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
                strings.append(pushed)
            last_string = pushed
    except Exception:  # a truncated or odd stream: name what was parsed before it
        pass
    unsafe = [g for g in found if g.split(".", 1)[0] not in TRUSTED_ROOTS]
    return list(dict.fromkeys(unsafe))


def _names(globals_: list[str]) -> str:
    shown = ", ".join(globals_[:SHOWN_GLOBALS])
    return shown + (f" (and {len(globals_) - SHOWN_GLOBALS} more)" if len(globals_) > SHOWN_GLOBALS else "")
