"""Every page at three sizes: usable, no horizontal scrolling, a screenshot each, and axe-core finds
no serious or critical violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.dashboard.conftest import VIEWPORTS, log_in, no_horizontal_scroll, screenshots_dir

pytestmark = pytest.mark.browser

PUBLIC_PAGES = {
    "login": ("/login", "Log in"),
    "register": ("/register", "Create an account"),
    "forgot-password": ("/forgot-password", "Reset your password"),
    "reset-password": ("/reset-password?token=not-a-token", "Choose a new password"),
    "verify-email": ("/verify-email?token=not-a-token", "Confirm your e-mail"),
    "accept-invitation": ("/invitations/accept?token=not-a-token", "You are invited"),
}


@pytest.fixture(scope="module")
def world(live_server) -> dict:
    """An organization with data on every page: agents, tasks with history, a team, an invitation, a key."""
    admin = live_server.register("Aiko Admin")
    member = live_server.register("Ben Member")
    org = live_server.organization(admin, "Acme Robotics")
    call = live_server.call
    call(
        "POST",
        f"/api/organizations/{org}/invitations",
        admin,
        json={"email": member["email"], "role": "Member"},
    )
    token = live_server.token(member["email"], "invited")
    call("POST", "/api/invitations/accept", member, json={"token": token})
    call(
        "POST",
        f"/api/organizations/{org}/invitations",
        admin,
        json={"email": "carol@example.com", "role": "Viewer"},
    )
    agents = [
        call("POST", "/api/agents", admin, org, json={"slug": slug, "name": name, "kind": kind})
        for slug, name, kind in (
            ("planner", "Planner", "coordinator"),
            ("builder", "Builder", "worker"),
            ("tester", "Tester with a rather long name", "worker"),
        )
    ]
    tasks = []
    for n in range(25):
        task = call(
            "POST",
            "/api/tasks",
            admin,
            org,
            json={
                "title": f"Task number {n}: prepare the quarterly report for the board",
                "agent_id": agents[n % 3]["id"],
                "description": "Collect the figures.\nThen write it up.",
                "priority": n % 4,
            },
        )
        tasks.append(task)
    key = call("POST", "/api/api-keys", admin, org, json={"name": "builder worker"})["key"]
    worker = {"headers": {"Authorization": f"Bearer {key}"}}
    call("POST", f"/api/agents/{agents[1]['id']}/heartbeat", worker, json={"status": "running"})
    call("PATCH", f"/api/tasks/{tasks[-1]['id']}", worker, json={"status": "running"})
    call("PATCH", f"/api/tasks/{tasks[-2]['id']}", worker, json={"status": "running"})
    call("PATCH", f"/api/tasks/{tasks[-2]['id']}", worker, json={"status": "done", "result": {"pages": 12}})
    team = call("POST", f"/api/organizations/{org}/teams", admin, json={"name": "Platform"})
    me = call("GET", "/api/auth/me", member)
    call("POST", f"/api/teams/{team['id']}/members", admin, org, json={"user_id": me["id"]})
    return {"admin": admin, "member": member, "org": org, "agent": agents[1]["id"], "task": tasks[-2]["id"]}


def private_pages(world: dict) -> dict[str, tuple[str, str]]:
    return {
        "home": ("/", "Overview"),
        "tasks": ("/tasks", "Tasks"),
        "task": (f"/tasks/{world['task']}", "Task number 23"),
        "agent": (f"/agents/{world['agent']}", "Builder"),
        "settings-details": ("/settings/details", "Settings"),
        "settings-members": ("/settings/members", "Settings"),
        "settings-teams": ("/settings/teams", "Settings"),
        "settings-invitations": ("/settings/invitations", "Settings"),
        "settings-api-keys": ("/settings/api-keys", "Settings"),
        "new-organization": ("/organizations/new", "New organization"),
    }


def serious(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_page_fits_and_passes_axe(live_server, world, open_tab, size):
    folder = screenshots_dir()
    problems: list[str] = []
    visitor = open_tab(VIEWPORTS[size])
    for name, (path, heading) in PUBLIC_PAGES.items():
        visitor.page.goto(path)
        expect(visitor.page.get_by_role("heading", level=1)).to_contain_text(heading)
        visitor.page.wait_for_load_state("networkidle")
        problems += check(visitor.page, name, size, folder)
    admin = open_tab(VIEWPORTS[size])
    log_in(admin.page, world["admin"]["email"])
    for name, (path, heading) in private_pages(world).items():
        admin.page.goto(path)
        expect(admin.page.get_by_role("heading", level=1)).to_contain_text(heading)
        expect(admin.page.locator("main p.muted[aria-live]")).to_have_count(0)  # nothing still loading
        problems += check(admin.page, name, size, folder)
    assert problems == []
    assert visitor.errors == [] and admin.errors == []


def check(page, name: str, size: str, folder) -> list[str]:
    page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
    found = [] if no_horizontal_scroll(page) else [f"{name} at {size}: scrolls sideways"]
    if size == "desktop" or name in ("home", "login"):
        found += [f"{name} at {size}: {v}" for v in serious(page)]
    return found


def test_controls_follow_permissions(live_server, world, open_tab):
    tab = open_tab()
    log_in(tab.page, world["member"]["email"])
    page = tab.page
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("button", name="New task")).to_be_visible()  # task.create
    expect(page.locator("article.agent-card").first).to_be_visible()
    expect(page.get_by_role("button", name="Register agent")).to_have_count(0)  # no agent.manage
    expect(page.get_by_role("button", name="Stop Builder")).to_have_count(0)
    # Absence is checked only once the page shows what it does offer (a reload in the middle of
    # the session refresh would lose the rotated cookie: reuse, and the session is revoked).
    page.goto("/settings/details")
    expect(page.get_by_role("link", name="Teams")).to_be_visible()
    expect(page.locator("main strong", has_text="Acme Robotics")).to_be_visible()
    expect(page.get_by_role("link", name="Invitations")).to_have_count(0)  # no user.manage
    expect(page.get_by_label("Organization name")).to_have_count(0)  # no organization.manage
    page.goto("/settings/members")
    expect(page.get_by_text("Aiko Admin")).to_be_visible()
    expect(page.get_by_role("button", name="Assign")).to_have_count(0)
    page.goto("/settings/invitations")
    expect(page.get_by_text("is not open to you")).to_be_visible()


def test_task_list_filters_and_pages(live_server, world, open_tab):
    tab = open_tab()
    log_in(tab.page, world["admin"]["email"])
    page = tab.page
    page.goto("/tasks")
    rows = page.locator("ul.rows > li.row")
    expect(rows).to_have_count(20)
    page.get_by_role("button", name="Next").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Page 2")).to_be_visible()
    page.get_by_role("button", name="Previous").click()
    expect(rows).to_have_count(20)
    page.get_by_label("Status").select_option("running")
    expect(rows).to_have_count(1)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Agent", exact=True).select_option(label="Planner")
    expect(rows).to_have_count(9)  # n % 3 == 0 of 25
    page.get_by_label("Agent", exact=True).select_option("")
    page.get_by_label("Search this page").fill("number 19")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Task number 19: prepare the quarterly report for the board"
    )
    page.get_by_role("button", name="Cancel task").click()
    expect(page.get_by_test_id("task-status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel task")).to_have_count(0)
    expect(page.locator("ol.history")).to_contain_text("status.cancelled")
