"""The event feed's Lambda mode (MIYABI_EVENTS_LISTEN=false): no LISTEN, no advisory lock, leases.

Behind RDS Proxy a LISTEN connection or a session-level advisory lock pins a database connection
per waiting instance; in this mode a long poll reads the feed every MIYABI_EVENTS_POLL_MS in short
transactions and counts its user's readers with lease rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient

from app import lambda_handler
from app.main import create_app
from app.realtime_polling import EventPoller
from tests.app.conftest import assert_error
from tests.db.seed import as_tenant

POLL_MS = 200


@pytest.fixture
def polling(settings) -> Iterator[TestClient]:
    """The API as on Lambda: the long poll polls the events table."""
    changed = settings.model_copy(update={"events_listen": False, "events_poll_ms": POLL_MS,
                                          "events_max_per_user": 2})
    with TestClient(create_app(changed)) as client:
        assert isinstance(client.app.state.event_listener, EventPoller)
        yield client


def held_leases(admin_db, user_id: str) -> int:
    return admin_db.execute("select count(*) from event_reader_leases where user_id = %s",
                            (user_id,)).fetchone()[0]


def advisory_locks(admin_db) -> int:
    return admin_db.execute(
        "select count(*) from pg_locks where locktype = 'advisory' and database = "
        "(select oid from pg_database where datname = current_database())").fetchone()[0]


def listeners(admin_db) -> int:
    return admin_db.execute("select count(*) from pg_stat_activity where datname = current_database() "
                            "and query ilike 'listen %%'").fetchone()[0]


def test_a_long_poll_wakes_within_its_interval_of_a_commit_holding_no_lock(polling, people, admin_db,
                                                                           database):
    h = people.viewer.headers(people.org_id)
    last = polling.get("/api/events", headers=h).json()["next_cursor"] or "0"
    committed: list[float] = []
    seen_while_waiting: list[tuple[int, int, int]] = []

    def change_later() -> None:
        time.sleep(0.8)
        # While the poll waits: its lease is in the table, and it holds no lock and no LISTEN.
        seen_while_waiting.append((held_leases(admin_db, people.viewer.id), advisory_locks(admin_db),
                                   listeners(admin_db)))
        with psycopg.connect(database.admin_url) as conn:
            as_tenant(conn, people.org_id)
            conn.execute("insert into tasks (organization_id, title) values (%s, 'from outside')",
                         (people.org_id,))
        committed.append(time.monotonic())

    writer = threading.Thread(target=change_later)
    writer.start()
    page = polling.get("/api/events", params={"after": last, "wait": 15}, headers=h).json()
    answered = time.monotonic()
    writer.join()
    assert [e["data"]["title"] for e in page["items"]] == ["from outside"]
    assert seen_while_waiting == [(1, 0, 0)]
    # Woken by its own next read: within one interval of the commit (plus the answer's way back).
    assert answered - committed[0] < POLL_MS / 1000 + 0.5
    assert held_leases(admin_db, people.viewer.id) == 0  # given back before the answer


def test_polls_miss_nothing_while_writers_commit_concurrently(polling, people):
    h = people.viewer.headers(people.org_id)
    start = polling.get("/api/events", headers=h).json()["next_cursor"] or "0"
    writers_done = threading.Event()
    created: list[str] = []

    def write(i: int) -> None:
        r = polling.post("/api/tasks", json={"title": f"t{i}"}, headers=people.member.headers(people.org_id))
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])

    def writers() -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(24)))
        writers_done.set()

    threading.Thread(target=writers).start()
    seen: list[dict] = []
    cursor = start
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = polling.get("/api/events", params={"after": cursor, "wait": 1, "limit": 5}, headers=h).json()
        seen += page["items"]
        cursor = page["next_cursor"] or cursor
        if writers_done.is_set() and not page["items"]:
            break
    ids = [e["id"] for e in seen]
    assert ids == sorted(set(ids))  # in order, none twice
    assert sorted(e["data"]["id"] for e in seen if e["type"] == "task.created") == sorted(created)


def test_the_reader_limit_holds_with_leases_and_a_lapsed_lease_is_taken_again(polling, people, admin_db):
    h = people.viewer.headers(people.org_id)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: polling.get("/api/events", params={"wait": 1.5}, headers=h),
                                range(4)))
    assert sorted(r.status_code for r in answers) == [200, 200, 429, 429]
    refused = next(r for r in answers if r.status_code == 429)
    assert_error(refused, 429, "too_many_readers")
    assert held_leases(admin_db, people.viewer.id) == 0
    # Two live leases held elsewhere (other instances): no third reader.
    admin_db.execute("insert into event_reader_leases (user_id, slot, lease, expires_at) "
                     "select %s, s, gen_random_uuid(), now() + interval '1 minute' "
                     "from generate_series(0, 1) s", (people.viewer.id,))
    assert_error(polling.get("/api/events", params={"wait": 0.3}, headers=h), 429, "too_many_readers")
    # Another user is not counted against them.
    assert polling.get("/api/events", params={"wait": 0.3},
                       headers=people.member.headers(people.org_id)).status_code == 200
    # The instance that held them died: the leases lapse and their slots come back.
    admin_db.execute("update event_reader_leases set expires_at = now() - interval '1 second' "
                     "where user_id = %s", (people.viewer.id,))
    assert polling.get("/api/events", params={"wait": 0.3}, headers=h).status_code == 200


def test_lambda_settings_poll_the_feed_and_reach_the_database_through_the_proxy(monkeypatch):
    secret = {"username": "miyabi_app", "password": "pw", "host": "db.internal", "port": 5432,
              "dbname": "miyabi"}
    monkeypatch.setattr(lambda_handler, "read_secret", lambda arn, region=None: secret)
    env = {"APP_DB_SECRET_ARN": "arn:secret", "MIYABI_DB_HOST": "proxy.internal"}
    settings = lambda_handler.lambda_settings(env)
    assert settings.events_listen is False and settings.events_stream is False
    assert settings.db_proxy is True
    assert "@proxy.internal:5432/miyabi?sslmode=require" in settings.app_database_url
    direct = lambda_handler.lambda_settings({"APP_DB_SECRET_ARN": "arn:secret"})
    assert "@db.internal:5432/" in direct.app_database_url and direct.db_proxy is False
