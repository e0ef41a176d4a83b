"""The event feed: long poll woken by LISTEN/NOTIFY, SSE with Last-Event-ID, nothing missed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from app.realtime import FEED_LOCK
from tests.app.conftest import assert_error
from tests.app.live_server import serve


def make_task(client, user, org_id, title="t") -> dict:
    r = client.post("/api/tasks", json={"title": title}, headers=user.headers(org_id))
    assert r.status_code == 201, r.text
    return r.json()


def test_waiting_events_return_at_once(client, people):
    task = make_task(client, people.member, people.org_id)
    h = people.viewer.headers(people.org_id)
    started = time.monotonic()
    page = client.get("/api/events", params={"wait": 10}, headers=h).json()
    assert time.monotonic() - started < 2
    assert [(e["type"], e["data"]["id"]) for e in page["items"]] == [("task.created", task["id"])]
    assert page["next_cursor"] == str(page["items"][-1]["id"])
    again = client.get("/api/events", params={"after": page["next_cursor"]}, headers=h).json()
    assert again == {"items": [], "next_cursor": page["next_cursor"]}


def test_long_poll_is_woken_by_a_change(client, people, admin_db):
    h = people.viewer.headers(people.org_id)
    last = client.get("/api/events", headers=h).json()["next_cursor"] or "0"

    def change_later() -> None:
        time.sleep(0.5)  # a write outside the API: the trigger's NOTIFY still wakes the poll
        admin_db.execute("select set_config('app.org_id', %s, false)", (people.org_id,))
        admin_db.execute("insert into tasks (organization_id, title) values (%s, 'from outside')",
                         (people.org_id,))

    writer = threading.Thread(target=change_later)
    started = time.monotonic()
    writer.start()
    page = client.get("/api/events", params={"after": last, "wait": 15}, headers=h).json()
    writer.join()
    assert 0.4 < time.monotonic() - started < 5
    assert [e["data"]["title"] for e in page["items"]] == ["from outside"]


def test_long_poll_times_out_empty_and_ignores_other_organizations(client, people, make_user, make_org):
    stranger = make_user()
    other = make_org(stranger)
    h = people.viewer.headers(people.org_id)
    done = threading.Event()

    def other_org_writes() -> None:
        while not done.is_set():
            make_task(client, stranger, other)
            time.sleep(0.2)

    writer = threading.Thread(target=other_org_writes)
    writer.start()
    started = time.monotonic()
    try:
        page = client.get("/api/events", params={"wait": 1.5}, headers=h).json()
    finally:
        done.set()
        writer.join()
    assert time.monotonic() - started >= 1.4
    assert page == {"items": [], "next_cursor": None}


def test_feed_needs_a_view_permission_and_validates(client, people, make_user, add_member, admin_db):
    h = people.viewer.headers(people.org_id)
    assert_error(client.get("/api/events", params={"wait": 21}, headers=h), 422)
    assert_error(client.get("/api/events", params={"after": -1}, headers=h), 422)
    assert_error(client.get("/api/events"), 401)
    nobody = make_user()
    add_member(people.org_id, nobody, "Viewer")
    admin_db.execute("delete from member_roles where user_id = %s", (nobody.id,))
    assert_error(client.get("/api/events", headers=nobody.headers(people.org_id)), 403)
    assert_error(client.get("/api/events/stream", headers=nobody.headers(people.org_id)), 403)


# --- over a real server: streaming and concurrency need one -----------------------------------

@pytest.fixture
def server(settings) -> Iterator[str]:
    """The API served by uvicorn in a thread; its base URL."""
    with serve(settings) as (url, _):
        yield url


def read_sse(lines: Iterator[str], count: int) -> list[dict]:
    """The next `count` events of an open SSE response's `iter_lines()`."""
    events, fields = [], {}
    for line in lines:
        if line == "" and "data" in fields:
            events.append({"id": int(fields["id"]), "type": fields["event"], **json.loads(fields["data"])})
            fields = {}
            if len(events) == count:
                return events
        elif line and not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError(f"the stream ended after {len(events)} events")


def test_sse_resumes_from_last_event_id(server, client, people):
    h = people.viewer.headers(people.org_id)
    first = [make_task(client, people.member, people.org_id, f"a{n}")["id"] for n in range(3)]
    with httpx.Client(base_url=server, headers=h, timeout=10) as http:
        with http.stream("GET", "/api/events/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            seen = read_sse(response.iter_lines(), 2)
        assert [e["data"]["id"] for e in seen] == first[:2]
        # Disconnected after two; more happen while away; reconnect with the last id seen.
        later = [make_task(client, people.member, people.org_id, f"b{n}")["id"] for n in range(2)]
        with http.stream("GET", "/api/events/stream",
                         headers={"Last-Event-ID": str(seen[-1]["id"])}) as response:
            lines = response.iter_lines()
            resumed = read_sse(lines, 3)
            assert [e["data"]["id"] for e in resumed] == [first[2], *later]
            live = make_task(client, people.member, people.org_id, "live")["id"]  # pushed, not polled
            assert read_sse(lines, 1)[0]["data"]["id"] == live


def test_concurrent_writers_a_polling_client_misses_nothing(server, people, make_api_key):
    """Writers commit in any order; a client following `after` still sees every event once."""
    key = make_api_key(people.member, people.org_id)
    headers = {"Authorization": f"Bearer {key}"}
    writers_done = threading.Event()

    def write(n: int) -> None:
        with httpx.Client(base_url=server, headers=headers, timeout=10) as http:
            for i in range(10):
                task = http.post("/api/tasks", json={"title": f"w{n}-{i}"}).json()
                http.patch(f"/api/tasks/{task['id']}", json={"status": "running"})

    seen: list[int] = []
    with httpx.Client(base_url=server, headers=headers, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(write, n) for n in range(8)]
        threading.Thread(target=lambda: ([f.result() for f in futures], writers_done.set())).start()
        after = 0
        while True:
            finished = writers_done.is_set()
            page = http.get("/api/events", params={"after": after, "wait": 1, "limit": 7}).json()
            seen += [e["id"] for e in page["items"]]
            after = int(page["next_cursor"] or 0)
            if finished and not page["items"]:
                break
    assert seen == sorted(set(seen))
    assert len(seen) == 8 * 10 * 2


def test_an_event_committed_late_is_not_skipped(client, people, database):
    """A slow writer holds event N while a fast one writes N+1: the feed waits for N's commit.

    Without the feed lock the reader would see N+1 first, move past N and never see it.
    """
    h = people.viewer.headers(people.org_id)
    with psycopg.connect(database.admin_url) as slow:  # one open transaction, like an API write
        slow.execute("select set_config('app.org_id', %s, false)", (people.org_id,))
        slow.execute(FEED_LOCK, (people.org_id,))
        slow.execute("insert into tasks (organization_id, title) values (%s, 'slow')", (people.org_id,))
        fast = threading.Thread(target=make_task, args=(client, people.member, people.org_id, "fast"))
        fast.start()
        time.sleep(0.5)
        early = client.get("/api/events", headers=h).json()
        slow.commit()
    fast.join()
    rest = client.get("/api/events", params={"after": early["next_cursor"] or 0}, headers=h).json()
    titles = [e["data"]["title"] for e in early["items"] + rest["items"]]
    assert titles == ["slow", "fast"]
