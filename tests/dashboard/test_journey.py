"""The journey of the seed plan, in two browsers, with an agent's API key acting over HTTP."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.conftest import PASSWORD
from tests.dashboard.conftest import log_in

pytestmark = pytest.mark.browser


def test_register_verify_organize_invite_and_watch_a_task_live(live_server, open_tab):
    owner = open_tab()
    page = owner.page
    # Register: "check your e-mail".
    page.goto("/register")
    page.get_by_label("Name", exact=True).fill("Aiko Owner")
    page.get_by_label("E-mail", exact=True).fill("aiko@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("I accept the terms of service").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    # The link from the outbox verifies the address.
    page.goto(live_server.link("aiko@example.com", "verify", "/verify-email"))
    expect(page.get_by_text("Your e-mail address is confirmed.")).to_be_visible()
    # Log in; no organization yet: create one.
    log_in(page, "aiko@example.com")
    expect(page).to_have_url(re.compile(r"/organizations/new$"))
    page.get_by_label("Name", exact=True).fill("Aiko Labs")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".live")).to_have_text("Live")
    # Invite a second person, who accepts in a second browser.
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Invitations").click()
    page.get_by_label("E-mail to invite").fill("ben@example.com")
    page.get_by_label("Role", exact=True).select_option("Member")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to ben@example.com.")).to_be_visible()
    second = open_tab().page
    second.goto(live_server.link("ben@example.com", "invited", "/invitations/accept"))
    second.get_by_role("link", name="Create an account").click()
    second.get_by_label("Name", exact=True).fill("Ben Member")
    second.get_by_label("E-mail", exact=True).fill("ben@example.com")
    second.get_by_label("Password", exact=True).fill(PASSWORD)
    second.get_by_label("I accept the terms of service").check()
    second.get_by_role("button", name="Create account").click()
    second.get_by_role("link", name="Go to the login page").click()
    second.get_by_label("E-mail", exact=True).fill("ben@example.com")
    second.get_by_label("Password", exact=True).fill(PASSWORD)
    second.get_by_role("button", name="Log in").click()
    second.get_by_role("button", name="Accept invitation").click()
    expect(second.get_by_role("heading", name="Overview")).to_be_visible()
    expect(second.get_by_role("combobox", name="Organization")).to_have_value(re.compile(".+"))
    expect(second.get_by_role("button", name="Register agent")).to_have_count(0)  # a Member may not
    # The Admin registers an agent and makes an API key for its worker.
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_text("ben@example.com")).to_be_visible()
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("worker-1")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("mk_")
    page.get_by_role("link", name="Home").click()
    page.get_by_role("button", name="Register agent").click()
    page.get_by_label("Agent name").fill("Builder")
    page.get_by_label("Agent slug").fill("builder")
    page.get_by_role("button", name="Register", exact=True).click()
    card = page.locator("article.agent-card", has_text="Builder")
    expect(card).to_be_visible()
    # A task, created from the page, for that agent.
    page.get_by_role("button", name="New task").click()
    page.get_by_label("Title").fill("Compile the report")
    page.get_by_label("Agent", exact=True).select_option(label="Builder")
    page.get_by_role("button", name="Create task").click()
    row = page.locator("li.row", has_text="Compile the report")
    expect(row.locator(".badge")).to_have_text("pending")
    task_id = row.get_attribute("data-task")
    # The worker moves it over HTTP with its key; the page follows without a reload.
    page.evaluate("window.__stayed = true")
    worker = {"Authorization": f"Bearer {key}"}
    for status in ("running", "done"):
        r = httpx.patch(f"{live_server.url}/api/tasks/{task_id}", json={"status": status}, headers=worker)
        assert r.status_code == 200, r.text
        expect(row.locator(".badge")).to_have_text(status, timeout=3000)
        expect(page.locator(f'.counts li[data-status="{status}"] strong')).to_have_text("1", timeout=3000)
    # The second person's page saw it too.
    expect(second.locator("li.row", has_text="Compile the report").locator(".badge")).to_have_text("done")
    # Stop and start the agent.
    card.get_by_role("button", name="Start Builder").click()
    expect(card).to_contain_text("wants running")
    card.get_by_role("button", name="Stop Builder").click()
    expect(card).to_contain_text("wants stopped")
    card.get_by_role("button", name="Start Builder").click()
    expect(card).to_contain_text("wants running")
    expect(second.locator("article.agent-card", has_text="Builder")).to_contain_text("wants running")
    assert page.evaluate("window.__stayed") is True  # never reloaded
    assert owner.errors == []
