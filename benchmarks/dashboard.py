"""Benchmark (not a test): the web dashboard's cold load and live updates, in Chromium.

    python -m benchmarks.dashboard [--loads 5] [--tasks 200]

Starts an embedded PostgreSQL in a temporary folder, migrates it as the owner, seeds one
organization (inside the tenant) with a person who may log in, serves the API and dashboard with
uvicorn in a subprocess (as benchmarks/api_tasks.py does), then with Playwright and Debian's
Chromium (the browser tests' launch arguments) makes `--loads` cold loads of `/`, each in a new
browser context (empty cache, a fresh session cookie), after one uncounted warm-up load:

- JS + CSS transferred on the first load, gzipped bodies as the browser got them (Resource Timing
  encodedBodySize of every .js/.mjs/.css); target at most 60 KB;
- navigation start to the home page showing data (a row of "Recent tasks"); target under 1 s;
- a task created over HTTP with an API key to its row showing on the open page, no reload
  (the live stream); target under 1 s.

The table shows the medians over the loads and the worst load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from app.routes.session_cookie import COOKIE, COOKIE_PATH
from app.security import hash_password
from benchmarks.api_tasks import free_port, migrated_database, seed, serve
from benchmarks.scratch import scratch

console = Console()
CHROMIUM = os.environ.get("MIYABI_CHROMIUM", "/usr/bin/chromium")
# The same launch arguments as tests/dashboard/conftest.py.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EMAIL, PASSWORD = "bench@example.com", "benchmark-person-password"  # noqa: S105 (a throwaway server)
CSRF = {"X-Requested-With": "miyabi-dashboard"}
TARGET_KB, TARGET_MS = 60, 1000
RECENT_ROW = "section[aria-labelledby=recent-title] li.row"
# Resource Timing of the page's scripts and styles: (encoded, decoded) bytes.
ASSET_BYTES = """() => performance.getEntriesByType('resource')
  .filter((e) => /\\.(m?js|css)(\\?|$)/.test(new URL(e.name).pathname))
  .reduce(([enc, dec, n], e) => [enc + e.encodedBodySize, dec + e.decodedBodySize, n + 1], [0, 0, 0])"""


@dataclass(frozen=True)
class Load:
    """One cold load: asset bytes (gzipped, plain), asset count, ms to data, ms from API change."""

    gzipped: int
    plain: int
    assets: int
    to_data_ms: float
    change_ms: float


def person(admin_url: str, user: str) -> None:
    """Give the seeded person a password, so they log in like anyone."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("update users set password_hash = %s where id = %s",
                     (asyncio.run(hash_password(PASSWORD)), user))


def api_key(base: str, org: str) -> str:
    """A key of the person's in the organization, as an agent would hold."""
    login = httpx.post(f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    login.raise_for_status()
    made = httpx.post(f"{base}/api/api-keys", json={"name": "benchmark"}, headers={
        "Authorization": f"Bearer {login.json()['access_token']}", "X-Organization-Id": org})
    made.raise_for_status()
    return made.json()["key"]


def session_cookie(base: str) -> dict:
    """A fresh dashboard session (the refresh cookie the login form would get)."""
    answer = httpx.post(f"{base}{COOKIE_PATH}", json={"email": EMAIL, "password": PASSWORD}, headers=CSRF)
    answer.raise_for_status()
    for header in answer.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return {"name": COOKIE, "value": rest.split(";", 1)[0], "domain": "127.0.0.1",
                    "path": COOKIE_PATH, "secure": True, "httpOnly": True, "sameSite": "Strict"}
    raise RuntimeError("the session answer set no refresh cookie")


def cold_load(browser, base: str, org: str, key: str) -> Load:  # noqa: ANN001
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    try:
        context.add_cookies([session_cookie(base)])
        context.add_init_script(f"localStorage.setItem('miyabi.organization', '{org}')")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/", wait_until="commit")
        to_data = page.wait_for_function(
            f"() => document.querySelector('{RECENT_ROW}') && performance.now()", polling="raf").json_value()
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # modules imported late (pages) finish arriving
        gzipped, plain, assets = page.evaluate(ASSET_BYTES)
        title = f"benchmark {uuid.uuid4().hex[:8]}"
        page.wait_for_timeout(500)  # the live stream is open
        sent = time.time() * 1000
        made = httpx.post(f"{base}/api/tasks", json={"title": title},
                          headers={"Authorization": f"Bearer {key}"})
        made.raise_for_status()
        shown = page.wait_for_function(
            f"() => [...document.querySelectorAll('{RECENT_ROW}')].some((r) => r.textContent.includes("
            f"'{title}')) && Date.now()", polling="raf").json_value()
        return Load(int(gzipped), int(plain), int(assets), float(to_data), float(shown) - sent)
    finally:
        context.close()


def measure(base: str, org: str, key: str, loads: int) -> list[Load]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            cold_load(browser, base, org, key)  # warm-up: the server's first answers, not counted
            return [cold_load(browser, base, org, key) for _ in range(loads)]
        finally:
            browser.close()


def report(loads: list[Load], tasks: int) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    kb = median([load.gzipped for load in loads]) / 1024
    plain = median([load.plain for load in loads]) / 1024
    to_data = [load.to_data_ms for load in loads]
    change = [load.change_ms for load in loads]
    table = Table(title=f"Dashboard in Chromium — {len(loads)} cold loads (new context each), "
                        f"{tasks} tasks, local uvicorn")
    for column in ("measure", "median", "worst", "target", ""):
        table.add_column(column)
    table.add_row("JS + CSS transferred, gzipped (first load)",
                  f"{kb:.1f} KB ({plain:.1f} KB plain, {loads[0].assets} files)",
                  f"{max(load.gzipped for load in loads) / 1024:.1f} KB", f"≤ {TARGET_KB} KB",
                  _verdict(kb <= TARGET_KB))
    table.add_row("navigation → home page showing data", f"{median(to_data):.0f} ms",
                  f"{max(to_data):.0f} ms", f"< {TARGET_MS} ms", _verdict(median(to_data) < TARGET_MS))
    table.add_row("task created over HTTP (API key) → on the page", f"{median(change):.0f} ms",
                  f"{max(change):.0f} ms", f"< {TARGET_MS} ms", _verdict(median(change) < TARGET_MS))
    console.print(table)


def _verdict(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]missed[/]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="cold loads measured (after one warm-up)")
    parser.add_argument("--tasks", type=int, default=200, help="tasks seeded in the organization")
    args = parser.parse_args()
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        raise SystemExit(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")

    with scratch("miyabi-bench-dashboard-") as world:
        with console.status("starting PostgreSQL, migrating, seeding"):
            admin_url, app_url = migrated_database(world.server)
            org, user = seed(admin_url, args.tasks, 1)
            person(admin_url, user)
        port = free_port()
        with console.status("starting the API and dashboard"):
            os.environ.setdefault("MIYABI_EVENTS_MAX_PER_USER", "20")
            world.api = serve(admin_url, app_url, world.root / "home", port, workers=1, pool=5)
        base = f"http://127.0.0.1:{port}"
        key = api_key(base, org)
        with console.status(f"Chromium: {args.loads} cold loads"):
            loads = measure(base, org, key, args.loads)
        report(loads, args.tasks)


if __name__ == "__main__":
    main()
