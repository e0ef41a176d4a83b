"""docs/ is the contract: every route of the app is documented in docs/api.md, and nothing else is.

The convention (stated in docs/api.md): each endpoint is a table row whose first cell starts
with its method and path, `| GET /api/...`. Path parameters compare by position, not by name.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI

from app.main import DESCRIPTION
from app.routes import ROUTERS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s+(/api/\S*)", re.MULTILINE)
METHODS = {"get", "post", "put", "patch", "delete"}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented() -> set[tuple[str, str]]:
    rows = ROW.findall((DOCS / "api.md").read_text())
    assert rows, "docs/api.md has no `| METHOD /api/...` rows"
    return {(method, _shape(path)) for method, path in rows}


def served() -> set[tuple[str, str]]:
    """Every operation of the OpenAPI document the app's routers produce."""
    app = FastAPI()
    for router in ROUTERS:
        app.include_router(router)
    return {(method.upper(), _shape(path)) for path, item in app.openapi()["paths"].items()
            for method in item if method in METHODS}


def test_every_route_is_in_the_contract() -> None:
    missing = served() - documented()
    assert not missing, f"routes missing from docs/api.md: {sorted(missing)}"


def test_every_documented_route_exists() -> None:
    extra = documented() - served()
    assert not extra, f"docs/api.md documents routes the app does not serve: {sorted(extra)}"


def test_the_convention_finds_every_route() -> None:
    assert len(served()) >= 70


def test_docs_link_each_other_and_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("architecture.md", "api.md", "operations.md", "layout.md"):
        assert (DOCS / name).is_file(), name
        assert f"docs/{name}" in readme, f"README.md does not link docs/{name}"
        assert f"docs/{name}" in DESCRIPTION, f"the OpenAPI description does not name docs/{name}"


def test_nothing_points_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        assert "../shared" not in path.read_text(), path
    assert "../shared" not in DESCRIPTION
