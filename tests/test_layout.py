"""The package's layout holds: one job per module, imports one way, the engine never importing the job."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE: Path = Path(__file__).resolve().parent.parent / "pfdicom_tagSub"
MODULE_LINES_MAX: int = 450
CLASS_LINES_MAX: int = 150


def imports_of(path: Path) -> set[str]:
    """The package modules a module imports at its top level or in its functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pfdicom_tagSub."):
            found.add(node.module.split(".")[1])
    return found


GRAPH: dict[str, set[str]] = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}


def test_the_engine_has_the_job_injected_and_never_imports_it() -> None:
    assert "dicomfile" not in GRAPH["pfdicom"]
    assert "plan" not in GRAPH["pfdicom"]


def test_imports_run_one_way() -> None:
    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in GRAPH.get(start, set()):
            if module == target or (module not in seen and reaches(module, target, seen | {module})):
                return True
        return False

    cycles: list[str] = [module for module in GRAPH if reaches(module, module, set())]
    assert cycles == []


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_modules_and_classes_stay_small(path: Path) -> None:
    text: str = path.read_text()
    assert len(text.splitlines()) <= MODULE_LINES_MAX
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            assert (node.end_lineno or 0) - node.lineno + 1 <= CLASS_LINES_MAX, node.name
