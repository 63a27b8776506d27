"""``index.md``: every figure of a `bench viz` folder embedded by relative path, in sections.

A figure that could not be drawn (no misclassified image, no training history) appears as
its section's sentence saying why, never as a broken image link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.viz.figures import PlotResult

INDEX_NAME = "index.md"


@dataclass(frozen=True)
class FigureEntry:
    """One figure of the index: its section, what it shows, and where it was written (or why not)."""

    section: str
    caption: str
    result: PlotResult

    @property
    def written(self) -> bool:
        return self.result.path is not None


def render_index(title: str, facts: Sequence[tuple[str, str]], notes: Sequence[str], entries: Sequence[FigureEntry], out_dir: Path) -> str:
    """The markdown text: a title, a fact list, notes, then the figures section by section."""
    lines = [f"# {title}", ""]
    lines += [f"- **{name}**: {value}" for name, value in facts]
    if notes:
        lines += ["", "Notes:", "", *(f"- {note}" for note in notes)]
    section = None
    for entry in entries:
        if entry.section != section:
            section = entry.section
            lines += ["", f"## {section}"]
        lines.append("")
        if entry.result.path is not None:
            relative = Path(entry.result.path).resolve().relative_to(out_dir.resolve()).as_posix()
            lines += [f"![{entry.caption}]({relative})", "", f"*{entry.caption}*"]
        else:
            lines.append(f"{entry.caption}: not drawn - {entry.result.reason}.")
    return "\n".join(lines).rstrip() + "\n"


def write_index(title: str, facts: Sequence[tuple[str, str]], notes: Sequence[str], entries: Sequence[FigureEntry], out_dir: Path) -> Path:
    """Write ``out_dir/index.md`` atomically and return its path."""
    path = out_dir / INDEX_NAME
    atomic_write_text(path, render_index(title, facts, notes, entries, out_dir))
    return path
