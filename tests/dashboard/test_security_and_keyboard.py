"""In the browser: user text stays text, the refresh cookie is out of reach of scripts, the CSP holds,
login and task creation work by keyboard alone, and live updates survive a missing stream."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.conftest import PASSWORD
from tests.dashboard.conftest import log_in

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def org(live_server) -> dict:
    admin = live_server.register("Keyboard Kim")
    return {"admin": admin, "id": live_server.organization(admin, "Safe Org")}


def test_a_task_title_of_html_is_shown_as_text_and_runs_nothing(live_server, org, open_tab):
    live_server.call("POST", "/api/tasks", org["admin"], org["id"], json={"title": XSS, "description": XSS})
    tab = open_tab()
    tab.page.add_init_script(
        path=None, script="window.__xss = 0; window.alert = () => { window.__xss += 1; };"
    )
    log_in(tab.page, org["admin"]["email"])
    tab.page.goto("/tasks")
    link = tab.page.get_by_role("link", name=XSS)
    expect(link).to_be_visible()
    link.click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text(XSS)
    expect(tab.page.locator("p.prewrap")).to_have_text(XSS)
    assert tab.page.locator("main img").count() == 0
    assert tab.page.evaluate("window.__xss") == 0
    assert tab.errors == []  # no dialog, no CSP violation, no error


def test_the_refresh_cookie_is_httponly_secure_strict_and_unreadable(live_server, org, open_tab):
    tab = open_tab()
    log_in(tab.page, org["admin"]["email"], remember=True)
    cookies = tab.page.context.cookies()
    [session] = [c for c in cookies if c["name"] == "__Secure-miyabi-refresh"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    assert session["path"] == "/api/auth/session" and session["expires"] > 0  # remember me: persistent
    assert "miyabi-refresh" not in tab.page.evaluate("document.cookie")
    assert tab.page.evaluate("Object.keys(localStorage).join(',')") == "miyabi.organization"
    # A reload keeps the session (the cookie is accepted on http://127.0.0.1, a secure context).
    tab.page.reload()
    expect(tab.page.get_by_role("heading", name="Overview")).to_be_visible()
    # Logging out clears it: a reload then lands on the login page.
    tab.page.get_by_role("button", name="Log out").click()
    expect(tab.page).to_have_url(re.compile(r"/login$"))
    assert not [c for c in tab.page.context.cookies() if c["name"] == "__Secure-miyabi-refresh"]
    tab.page.goto("/tasks")
    expect(tab.page).to_have_url(re.compile(r"/login\?next=%2Ftasks$"))


def test_login_and_task_creation_by_keyboard_alone(live_server, org, open_tab):
    page = open_tab().page
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail", exact=True)).to_be_focused()
    page.keyboard.type(org["admin"]["email"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    new_task = page.get_by_role("button", name="New task")
    for _ in range(30):  # Tab through the page to the button
        if new_task.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(new_task).to_be_focused()
    page.keyboard.press("Enter")  # opens the form, focus in its first field
    expect(page.get_by_label("Title")).to_be_focused()
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("li.row", has_text="Typed without a mouse")).to_be_visible()


def test_every_field_has_a_label(live_server, org, open_tab):
    page = open_tab().page
    log_in(page, org["admin"]["email"])
    for path in ("/", "/tasks", "/settings/teams", "/settings/invitations", "/settings/api-keys"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("main p.muted[aria-live]")).to_have_count(0)  # nothing still loading
        unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)""")
        assert unlabelled == [], path


def test_live_updates_fall_back_to_long_polls_where_the_stream_is_not_served(live_server, org, open_tab):
    tab = open_tab()
    page = tab.page
    page.route(
        "**/api/events/stream",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error":{"code":"stream_unavailable","message":"no streams here","details":[]},'
            '"request_id":"x"}',
        ),
    )
    log_in(page, org["admin"]["email"])
    expect(page.locator(".live")).to_have_text("Live (polling)")
    page.goto("/tasks")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    expect(page.locator("main p.muted[aria-live]")).to_have_count(0)
    headers = {**org["admin"]["headers"], "X-Organization-Id": org["id"]}
    r = httpx.post(
        f"{live_server.url}/api/tasks", json={"title": "Seen through a long poll"}, headers=headers
    )
    assert r.status_code == 201
    expect(page.locator("li.row", has_text="Seen through a long poll")).to_be_visible(timeout=3000)


def test_a_failing_stream_resumes_from_the_last_event_and_misses_nothing(live_server, org, open_tab):
    tab = open_tab()
    page = tab.page
    blocked = {"on": True}

    def stream(route):
        if blocked["on"]:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/events/stream", stream)
    log_in(page, org["admin"]["email"])
    expect(page.locator(".live")).to_have_text("Reconnecting…")
    expect(page.locator("main p.muted[aria-live]")).to_have_count(0)  # the page has its data
    headers = {**org["admin"]["headers"], "X-Organization-Id": org["id"]}
    r = httpx.post(
        f"{live_server.url}/api/tasks", json={"title": "Made while the stream was down"}, headers=headers
    )
    assert r.status_code == 201
    row = page.locator("li.row", has_text="Made while the stream was down")
    page.wait_for_timeout(500)
    expect(row).to_have_count(0)
    blocked["on"] = False
    expect(page.locator(".live")).to_have_text("Live", timeout=10_000)
    expect(row).to_be_visible(timeout=3000)
