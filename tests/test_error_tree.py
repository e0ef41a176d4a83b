"""docs/errors.md is the tree: every subclass of MiyabiError in the repository has its row there,
every row names a class of the tree, and each row's exit code is what the one map gives.

The classes are found by importing every module of the runtime packages (not by parsing), so a
failure defined beside the function raising it is found too.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from functools import cache
from pathlib import Path

import pytest

from db.actionable import MiyabiError, exit_code

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
PACKAGES = ("app", "bot", "db", "infra", "legacy", "ops")
# | `ClassName` | `path/module.py` | when | exit |
TREE_ROW = re.compile(r"^\| `(\w+)` \| `([\w/]+\.py)` \| .+ \| (\d) \|$", re.MULTILINE)
# | `Name`, `Other` | `path/module.py` | caught by |   (after "## Outside the tree")
OUTSIDE_ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \| `([\w/]+\.py)` \| [^|]+ \|$", re.MULTILINE)


def module_path(module: str) -> str:
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


@cache
def modules() -> tuple[str, ...]:
    """Every module of the runtime packages, imported (entry points `__main__` excepted)."""
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.rsplit(".", 1)[-1] != "__main__":
                importlib.import_module(info.name)
                names.append(info.name)
    return tuple(names)


def tree() -> dict[tuple[str, str], type[MiyabiError]]:
    """(class name, module path) of MiyabiError and every subclass defined in the repository."""
    modules()
    found, pending = {}, [MiyabiError]
    while pending:
        kind = pending.pop()
        if kind.__module__.split(".")[0] in PACKAGES:
            found[(kind.__name__, module_path(kind.__module__))] = kind
        pending.extend(kind.__subclasses__())
    return found


def documented() -> dict[tuple[str, str], int]:
    tree_part = DOC.read_text().split("## Outside the tree")[0]
    rows = TREE_ROW.findall(tree_part)
    assert rows, "docs/errors.md has no `| `Class` | `module.py` | when | exit |` rows"
    return {(name, path): int(code) for name, path, code in rows}


def test_the_walk_finds_the_tree() -> None:
    assert len(modules()) > 100
    assert len(tree()) > 50


def test_every_class_of_the_tree_is_documented() -> None:
    missing = set(tree()) - set(documented())
    assert not missing, f"classes missing from docs/errors.md: {sorted(missing)}"


def test_every_documented_class_is_in_the_tree() -> None:
    extra = set(documented()) - set(tree())
    assert not extra, f"docs/errors.md names classes that are not in the tree: {sorted(extra)}"


def test_each_documented_exit_code_is_the_map() -> None:
    classes = tree()
    wrong = {key: (code, exit_code(classes[key])) for key, code in documented().items()
             if key in classes and exit_code(classes[key]) != code}
    assert not wrong, f"docs/errors.md says (exit) but the map gives (exit): {wrong}"


def test_the_classes_outside_the_tree_exist_and_are_outside() -> None:
    outside = DOC.read_text().split("## Outside the tree")[1].split("\n## ")[0]
    rows = OUTSIDE_ROW.findall(outside)
    assert len(rows) >= 5
    modules()
    for names, path in rows:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        for name in re.findall(r"`(\w+)`", names):
            kind = getattr(module, name, None)
            assert inspect.isclass(kind) and issubclass(kind, Exception), f"{path} has no exception {name}"
            assert not issubclass(kind, MiyabiError), f"{name} is in the tree; move its row"


@pytest.mark.parametrize("page", ["README.md", "docs/layout.md"])
def test_the_page_is_linked(page: str) -> None:
    assert "errors.md" in (ROOT / page).read_text()
