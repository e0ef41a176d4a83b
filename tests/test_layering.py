"""The import rule: app may import db, never the reverse; legacy/ does not import app/ either.

Every module of db/ and legacy/ is parsed (not imported) and each `import` / `from ... import`
is checked, including imports inside functions, so a cycle cannot creep back in lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOWER = ("db", "legacy")
FORBIDDEN = {"app"}


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the module at `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def modules() -> list[Path]:
    return sorted(p for package in LOWER for p in (ROOT / package).rglob("*.py"))


def test_the_lower_packages_have_modules() -> None:
    assert len(modules()) > 20


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_never_imports_app(path: Path) -> None:
    bad = [f"line {line}: {name}" for line, name in imported(path) if name in FORBIDDEN]
    assert not bad, f"{path.relative_to(ROOT)} imports app/ ({', '.join(bad)}); move what it needs to db/"


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from app.settings import Settings\n    import app.main\n")
    assert [name for _, name in imported(module)] == ["app", "app"]
