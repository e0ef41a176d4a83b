"""The event feed's waiting readers: a limit per user across processes, one read per change."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.app.conftest import assert_error
from tests.app.live_server import serve


def until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def poll(url: str, headers: dict, wait: float, after: int = 0) -> httpx.Response:
    return httpx.get(f"{url}/api/events", params={"after": after, "wait": wait}, headers=headers,
                     timeout=wait + 10)


def test_concurrent_long_polls_beyond_the_limit_get_429(settings, people):
    h = people.viewer.headers(people.org_id)
    with serve(settings, events_max_per_user=2) as (url, _), ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: poll(url, h, wait=2), range(6)))
        assert sorted(r.status_code for r in answers) == [200, 200, 429, 429, 429, 429]
        refused = next(r for r in answers if r.status_code == 429)
        body = assert_error(refused, 429)
        assert body["error"]["code"] == "too_many_readers"
        assert int(refused.headers["Retry-After"]) > 0
        # The polls have ended: their slots are free again.
        assert poll(url, h, wait=0.3).status_code == 200


def test_the_limit_holds_across_processes_and_a_closed_stream_frees_its_slot(settings, people):
    h = people.viewer.headers(people.org_id)
    with (serve(settings, events_max_per_user=2) as (a, _), serve(settings, events_max_per_user=2) as (b, _),
          httpx.Client(headers=h, timeout=10) as first, httpx.Client(headers=h, timeout=10) as second,
          first.stream("GET", f"{a}/api/events/stream") as one):
        assert one.status_code == 200
        with second.stream("GET", f"{b}/api/events/stream") as two:
            assert two.status_code == 200
            for url in (a, b):  # one stream on each process: the user's two slots
                assert_error(poll(url, h, wait=1), 429, "too_many_readers")
                assert_error(httpx.get(f"{url}/api/events/stream", headers=h), 429, "too_many_readers")
            # Another user has slots of their own.
            assert poll(a, people.member.headers(people.org_id), wait=0.3).status_code == 200
        # The client left process b's stream: its slot is free for process a.
        freed = []
        until(lambda: freed.append(poll(a, h, wait=0.2).status_code) or freed[-1] == 200)


def test_one_read_wakes_every_waiter_of_an_organization_and_no_other(
        settings, client, people, make_user, make_org, make_api_key, add_member):
    stranger = make_user()
    other_org = make_org(stranger)
    # A reader who may see agents but not tasks: a custom role with agent.view only.
    agents_only = make_user()
    add_member(people.org_id, agents_only, "Viewer")
    role = client.post("/api/roles", json={"name": "Agent watcher", "permissions": ["agent.view"]},
                       headers=people.admin.headers(people.org_id))
    assert role.status_code == 201, role.text
    viewer_role = next(r["id"] for r in client.get("/api/roles", headers=people.admin.headers(
        people.org_id)).json()["items"] if r["name"] == "Viewer")
    assert client.post(f"/api/users/{agents_only.id}/roles", json={"role_id": role.json()["id"]},
                       headers=people.admin.headers(people.org_id)).status_code == 201
    assert client.delete(f"/api/users/{agents_only.id}/roles/{viewer_role}",
                         headers=people.admin.headers(people.org_id)).status_code == 204

    readers = [people.viewer, people.member, people.admin]
    waiting = [u.headers(people.org_id) for u in readers for _ in range(2)]
    waiting += [{"Authorization": f"Bearer {make_api_key(people.member, people.org_id)}"}]
    with serve(settings) as (url, app), ThreadPoolExecutor(9) as pool:
        listener = app.state.event_listener
        reads: list[str] = []
        original = listener.read

        async def counted(organization_id: str, after: int, limit: int) -> list[dict]:
            reads.append(organization_id)
            return await original(organization_id, after, limit)

        listener.read = counted
        mine = [pool.submit(poll, url, h, 10) for h in waiting]
        blind = pool.submit(poll, url, agents_only.headers(people.org_id), 3)
        foreign = pool.submit(poll, url, stranger.headers(other_org), 3)
        until(lambda: listener.waiting(people.org_id) == len(waiting) + 1
              and listener.waiting(other_org) == 1)
        started = time.monotonic()
        task = client.post("/api/tasks", json={"title": "news"}, headers=people.member.headers(people.org_id))
        assert task.status_code == 201
        pages = [f.result().json() for f in mine]
        assert time.monotonic() - started < 2  # woken, not timed out
        news = [("task.created", task.json()["id"])]
        assert all([(e["type"], e["data"]["id"]) for e in page["items"]] == news for page in pages)
        assert reads == [people.org_id]  # one read for seven waiters; none for the other organization
        assert blind.result().json() == {"items": [], "next_cursor": None}  # may not see tasks
        assert foreign.result().json() == {"items": [], "next_cursor": None}
        assert reads == [people.org_id]
