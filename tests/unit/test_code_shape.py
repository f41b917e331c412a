"""The size rules of the house style, checked on every run (ruff has no rule for these).

A newcomer should be able to read any module in one sitting and any function on one screen:
no module over 500 lines and no function over 60 in the product (services, libs) and the dev
kit (tools). Complexity over 10 is ruff's C901, configured in pyproject.toml for all three.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = [ROOT / "services", ROOT / "libs", ROOT / "tools"]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for base in CHECKED for p in base.rglob("*.py") if ".venv" not in p.parts)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def oversized_modules(paths: list[Path], limit: int = MAX_MODULE_LINES) -> list[str]:
    found = []
    for path in paths:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{_shown(path)}: {lines} lines")
    return found


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function or method longer than ``limit`` lines,
    counted from its ``def`` to its last line (decorators excluded)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append((node.name, node.lineno, length))
    return found


def test_no_module_over_500_lines() -> None:
    assert oversized_modules(_modules()) == []


def test_no_function_over_60_lines() -> None:
    found = [
        f"{_shown(path)}:{line} {name}: {length} lines"
        for path in _modules()
        for name, line, length in long_functions(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(("body_lines", "flagged"), [(59, False), (60, True)])
def test_the_function_rule_counts_from_def_to_last_line(body_lines: int, flagged: bool) -> None:
    source = "def f():\n" + "    x = 1\n" * body_lines + "\n@decorator\nasync def g():\n    pass\n"
    assert bool(long_functions(source)) is flagged  # def line + body: 60 is allowed, 61 is not


def test_the_module_rule_flags_a_long_module(tmp_path: Path) -> None:
    short, long = tmp_path / "short.py", tmp_path / "long.py"
    short.write_text("x = 1\n" * MAX_MODULE_LINES)
    long.write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    found = oversized_modules([short, long])
    assert len(found) == 1
    assert "long.py: 501 lines" in found[0]
