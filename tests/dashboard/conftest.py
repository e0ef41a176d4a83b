"""Browser tests: the dashboard in Debian's Chromium, driven by Playwright, against a real server.

One uvicorn server (in a thread, over a database of its own) and one Chromium serve a whole test
module; each test gets fresh browser contexts. Without Chromium the tests skip with one line
naming the install command, except under CI (env CI set), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings, load_settings
from tests.app.conftest import JWT_SECRET, PASSWORD, outbox_token
from tests.conftest import _database_of, create_database, drop_database

CHROMIUM = os.environ.get("MIYABI_CHROMIUM", "/usr/bin/chromium")
INSTALL = "apt-get install -y chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The browser logs every 4xx it is answered; the app shows those itself (a 401 on the
# session refresh before login, a 404 of a stream on Lambda).
EXPECTED_FAILURES = ("Failed to load resource",)
VIEWPORTS = {"desktop": (1920, 1080), "tablet": (768, 1024), "phone": (375, 667)}


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed ({INSTALL})"
    return None


def require_browser() -> None:
    missing = _browser_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {missing}", pytrace=False)
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("MIYABI_SCREENSHOTS") or Path(tempfile.gettempdir()) / "miyabi-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pytest_terminal_summary(terminalreporter) -> None:
    folder = screenshots_dir()
    if any(folder.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {folder}")


@dataclass
class LiveServer:
    """The API and dashboard on a real port, with helpers to set up data over HTTP."""

    url: str
    settings: Settings
    http: httpx.Client = field(repr=False)

    def token(self, to: str, subject_word: str) -> str:
        """The token of the newest such e-mail (sent after the answer, so it may take a moment)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                return outbox_token(self.settings.outbox_dir, to, subject_word)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def link(self, to: str, subject_word: str, path: str) -> str:
        return f"{self.url}{path}?token={self.token(to, subject_word)}"

    def register(self, name: str = "Test Person", email: str | None = None, verified: bool = True) -> dict:
        address = email or f"p-{uuid.uuid4().hex[:10]}@example.com"
        r = self.http.post("/api/auth/register", json={"email": address, "password": PASSWORD, "name": name})
        assert r.status_code == 201, r.text
        if verified:
            r = self.http.post("/api/auth/verify-email", json={"token": self.token(address, "verify")})
            assert r.status_code == 200, r.text
        r = self.http.post("/api/auth/login", json={"email": address, "password": PASSWORD})
        assert r.status_code == 200, r.text
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return {"email": address, "name": name, "headers": bearer}

    def call(self, method: str, path: str, person: dict, org: str | None = None, **kwargs) -> dict | None:
        headers = dict(person["headers"])
        if org:
            headers["X-Organization-Id"] = org
        r = self.http.request(method, path, headers=headers, **kwargs)
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def organization(self, owner: dict, name: str = "Acme Robotics") -> str:
        slug = f"org-{uuid.uuid4().hex[:8]}"
        return self.call("POST", "/api/organizations", owner, json={"name": name, "slug": slug})["id"]


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_server(pg_server, migrated_template, tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    name = f"dash_{uuid.uuid4().hex[:10]}"
    create_database(pg_server, name, template=migrated_template)
    database = _database_of(pg_server, name)
    sock = _free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings({
        "MIYABI_HOME": str(tmp_path_factory.mktemp("dashboard-home")), "DATABASE_URL": database.admin_url,
        "MIYABI_APP_DATABASE_URL": database.app_url, "MIYABI_JWT_SECRET": JWT_SECRET,
        "MIYABI_PUBLIC_URL": url, "MIYABI_POOL_MIN_SIZE": "1", "MIYABI_POOL_MAX_SIZE": "8",
        "MIYABI_EMAIL_MAX_PER_CALLER": "10000", "MIYABI_EMAIL_MAX_PER_ADDRESS": "100",
        "MIYABI_EVENTS_MAX_PER_USER": "20", "MIYABI_RELEASE": "test-release"})
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=url, timeout=30) as http:
        yield LiveServer(url, settings, http)
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    drop_database(pg_server, name)


@pytest.fixture(scope="module")
def chromium(live_server) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with the errors it logged."""

    page: object
    errors: list[str]


@pytest.fixture
def open_tab(chromium, live_server) -> Iterator[Callable[..., Tab]]:
    contexts = []

    def open_(viewport: tuple[int, int] = (1280, 800)) -> Tab:
        context = chromium.new_context(base_url=live_server.url,
                                       viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: errors.append(f"console: {message.text}")
                if message.type == "error" and not message.text.startswith(EXPECTED_FAILURES) else None)
        page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        return Tab(page, errors)

    yield open_
    for context in contexts:
        context.close()


def log_in(page, email: str, password: str = PASSWORD, remember: bool = False) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    if remember:
        page.get_by_label("Remember me on this device").check()
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
