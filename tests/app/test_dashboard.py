"""The dashboard served at `/`: its files, deep links to its pages, headers, and what stays the API's."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import REPOSITORY_ROOT, load_settings
from tests.app.conftest import assert_error

PAGE = b"<!doctype html><title>Miyabi</title><script type=module src=/src/main.js></script>"
MODULE = b"export const answer = 42;\n" * 40


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dashboard"
    (root / "src").mkdir(parents=True)
    (root / "index.html").write_bytes(PAGE)
    (root / "src" / "main.js").write_bytes(MODULE)
    (root / "app.css").write_text("body { margin: 0 }\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "notes.md").write_text("not served\n")
    (tmp_path / "outside.js").write_text("outside\n")
    return root


@pytest.fixture
def site(settings, folder) -> TestClient:
    with TestClient(create_app(settings.model_copy(update={"dashboard_dir": folder}))) as test_client:
        yield test_client


def test_the_page_and_its_security_headers(site):
    r = site.get("/")
    assert r.status_code == 200 and r.content == PAGE
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"  # links carry tokens
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-cache"


# A fixed agent id: pytest-xdist needs every worker to collect the same test ids.
@pytest.mark.parametrize("path", ["/tasks", f"/agents/{uuid.UUID(int=0x5EED)}",
                                  "/verify-email?token=abc.def.ghi", "/invitations/accept?token=x",
                                  "/settings/members", "/login"])
def test_deep_links_load_the_app(site, path):
    r = site.get(path)
    assert r.status_code == 200 and r.content == PAGE
    assert "content-security-policy" in r.headers


def test_modules_are_served_as_javascript_compressed_and_cached_briefly(site):
    r = site.get("/src/main.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == MODULE
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) < len(MODULE)
    assert r.headers["cache-control"] == "public, max-age=300"
    again = site.get("/src/main.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = site.head("/app.css")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/api/nope", "/api", "/api/tasks/x/y/z", "/api/nope.js"])
def test_unknown_api_paths_stay_json_404(site, path):
    assert_error(site.get(path), 404)
    assert_error(site.post(path, json={}), 404)


@pytest.mark.parametrize("path", ["/missing.js", "/.env", "/notes.md", "/src/../../outside.js",
                                  "/%2e%2e/outside.js", "/src/%2e%2e/%2e%2e/outside.js",
                                  "/..%2foutside.js"])
def test_nothing_outside_the_served_files(site, path):
    r = site.get(path)
    assert r.status_code == 404 or r.content == PAGE, r.content[:100]
    assert b"SECRET" not in r.content and b"outside" not in r.content


def test_the_api_is_untouched(site):
    assert site.get("/api/health").json() == {"status": "ok"}
    paths = site.get("/openapi.json").json()["paths"]
    assert "/api/auth/session" in paths and not any("{path" in p for p in paths)


def test_without_a_dashboard_folder_the_root_is_a_json_404(settings, tmp_path):
    configured = settings.model_copy(update={"dashboard_dir": tmp_path / "none"})
    with TestClient(create_app(configured)) as test_client:
        assert_error(test_client.get("/"), 404)


def test_the_folder_is_a_setting():
    assert load_settings({}).dashboard_dir == REPOSITORY_ROOT / "dashboard"
    assert load_settings({"MIYABI_DASHBOARD_DIR": "/srv/d"}).dashboard_dir == Path("/srv/d")


def test_a_route_added_later_still_wins(settings, folder):
    application = create_app(settings.model_copy(update={"dashboard_dir": folder}))

    @application.get("/later")
    async def later() -> dict:
        return {"route": "later"}

    with TestClient(application) as test_client:
        assert test_client.get("/later").json() == {"route": "later"}
        assert test_client.get("/later/page").content == PAGE
        assert test_client.post("/later").status_code == 405  # the route's, not the dashboard's
