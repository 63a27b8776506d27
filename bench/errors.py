"""User-facing errors.

Library code raises :class:`BenchError` for bad input (unknown model, missing data set,
corrupt checkpoint, ...). The CLI turns it into one line on stderr and exit code 2, so the
message must name both the problem and the fix, on one line, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1  # `compare` found a regression, or `run` finished with failed cells
EXIT_USAGE = 2  # bad usage or bad input


class BenchError(Exception):
    """Bad input from the user: one line naming the problem and, after it, the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem.rstrip(".")
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.problem
        if self.fix:
            text += f"; {self.fix}"
        return " ".join(text.split())  # always one line


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return a ' (did you mean ...?)' fragment of close names, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + ", ".join(close) + "?)"
