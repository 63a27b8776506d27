"""docs/architecture.md names every module, so the map of the code cannot go stale silently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "compress", "reports")


def _modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    )


def _named_in(doc: str, module: Path) -> bool:
    """Named by its path, or by its file name inside the section of its package."""
    if module.as_posix() in doc:
        return True
    package = module.parent.as_posix()
    sections = re.split(r"^### ", doc, flags=re.MULTILINE)
    return any(f"`{package}/`" in section.splitlines()[0] and f"`{module.name}`" in section for section in sections[1:])


def test_every_module_is_on_the_architecture_page() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [m.as_posix() for m in _modules() if not _named_in(doc, m)]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_the_page_states_the_layers_import_linter_checks() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 runs the module check above
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    table = doc[doc.index("## Layers") : doc.index("## Package map")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    # The table lists the contract's layers top to bottom, each layer's packages on its row.
    # The core row also holds the contract's last layer (errors), the foundation of the core.
    layers = [[p.strip() for p in layer.split("|")] for layer in contract["layers"]]
    layers = layers[:-2] + [layers[-2] + layers[-1]]
    assert len(rows) == len(layers)
    for row, packages in zip(rows, layers, strict=True):
        for package in packages:
            path = package.replace(".", "/")
            assert f"`{path}/`" in row or f"`{path}.py`" in row, (package, row)
