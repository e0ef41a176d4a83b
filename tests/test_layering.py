"""The import rules: app may import db, never the reverse; legacy/ does not import app/ either;
a router never imports another router.

Every module of db/, legacy/ and app/ is parsed (not imported) and each `import` / `from ... import`
is checked, including imports inside functions, so a cycle cannot creep back in lazily. What two
routers share lives in app/resources/ (models, SQL, queries) or another module of app/.
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


APP = ROOT / "app"
ROUTES = APP / "routes"
# The only modules that gather the routers: main.py includes ROUTERS, which routes/__init__.py lists.
GATHERERS = {APP / "main.py", ROUTES / "__init__.py"}


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the module at `path`, relative ones resolved."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.append((node.lineno, module))
    return found


def imports_a_router(path: Path, root: Path = ROOT) -> list[str]:
    return [f"line {line}: {name}" for line, name in imported_modules(path, root)
            if name == "app.routes" or name.startswith("app.routes.")]


def app_modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if p not in GATHERERS)


def test_the_routers_are_there() -> None:
    assert len([p for p in app_modules() if p.parent == ROUTES]) > 10


@pytest.mark.parametrize("path", app_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_router_is_imported_inside_app(path: Path) -> None:
    bad = imports_a_router(path)
    assert not bad, (f"{path.relative_to(ROOT)} imports a router ({', '.join(bad)}); move what it "
                     "shares to app/resources/<resource>.py or a module of app/")


@pytest.mark.parametrize("source", [
    "from app.routes.tasks import Task\n",
    "from app.routes import auth\n",
    "import app.routes.health\n",
    "def f():\n    from . import tasks\n",
    "from .agents import list_agents\n",
])
def test_the_check_sees_every_way_to_import_a_router(tmp_path: Path, source: str) -> None:
    routes = tmp_path / "app" / "routes"
    routes.mkdir(parents=True)
    module = routes / "status.py"
    module.write_text(source)
    assert imports_a_router(module, tmp_path)


def test_the_check_lets_a_router_import_resources(tmp_path: Path) -> None:
    routes = tmp_path / "app" / "routes"
    routes.mkdir(parents=True)
    module = routes / "status.py"
    module.write_text("from app.resources.tasks import Task\nfrom ..resources import agents\n")
    assert not imports_a_router(module, tmp_path)
