"""The floors of DESIGN.md hold: a module imports only its own floor and the floors below it.

Two checks: every import statement in the source (including imports inside functions), and what a
fresh interpreter actually loads when it imports one whole floor (``spice``, ``characterize`` and
``core`` load no torch).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top; a floor may import the floors before it in this list.
FLOORS = ("core", "spice", "lut", "characterize", "mapping", "training", "studies", "cli")
TORCH_FREE = ("core", "spice", "characterize")


def _floors_present() -> list[str]:
    return [floor for floor in FLOORS if (ROOT / floor / "__init__.py").exists()]


def _imported_floors(path: Path) -> set[tuple[str, int]]:
    """(floor, line) of every ``neatxbar.<floor>`` import in a source file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "neatxbar" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


@pytest.mark.parametrize("floor", _floors_present())
def test_sources_import_only_their_floor_and_below(floor: str) -> None:
    allowed = set(FLOORS[: FLOORS.index(floor) + 1]) | {"netlists", "configs"}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports neatxbar.{other}"
        for path in sorted((ROOT / floor).rglob("*.py"))
        for other, line in sorted(_imported_floors(path))
        if other not in allowed
    ]
    assert not wrong, "\n".join(wrong)


_LOAD_FLOOR = """
import importlib, json, pkgutil, sys
package = importlib.import_module("neatxbar." + sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("floor", _floors_present())
def test_a_fresh_interpreter_loads_nothing_from_above(floor: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_FLOOR, floor],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    above = set(FLOORS[FLOORS.index(floor) + 1 :])
    wrong = sorted(m for m in loaded if m.startswith("neatxbar.") and m.split(".")[1] in above)
    assert not wrong, wrong
    if floor in TORCH_FREE:
        assert "torch" not in loaded
    assert list(tmp_path.iterdir()) == []
