"""The login limit under a burst: concurrent wrong passwords cannot outrun the count.

Fifty guesses for one e-mail are sent at once through one event loop, with a pool big enough
that they really meet in PostgreSQL together; the password hash counts how many reached it.
"""

from __future__ import annotations

import asyncio

import pytest

from app import login
from tests.app.asgi import served
from tests.app.conftest import PASSWORD, assert_error

BURST = 50


@pytest.fixture
def roomy(settings):
    """Settings whose pool lets many requests hold a connection at once."""
    return settings.model_copy(update={"pool_max_size": 12, "pool_min_size": 4})


def _counting_verify(monkeypatch) -> list[str]:
    checked: list[str] = []
    verify = login.verify_password

    async def counted(password: str, stored: str | None) -> bool:
        checked.append(password)
        return await verify(password, stored)

    monkeypatch.setattr(login, "verify_password", counted)
    return checked


async def _burst(settings, email: str, password: str, client=("198.51.100.7", 4000)) -> list:
    async with served(settings, client) as (_, http):
        registered = await http.post("/api/auth/register", json={
            "email": email, "password": PASSWORD, "name": "Target"})
        assert registered.status_code == 201, registered.text
        return await asyncio.gather(*(
            http.post("/api/auth/login", json={"email": email, "password": password})
            for _ in range(BURST)))


def test_a_burst_of_wrong_passwords_reaches_the_hash_at_most_limit_times(roomy, monkeypatch):
    checked = _counting_verify(monkeypatch)
    answers = asyncio.run(_burst(roomy, "target@example.com", "wrong-password"))
    assert 1 <= len(checked) <= roomy.login_max_failures
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(401) == len(checked)
    assert statuses.count(429) == BURST - len(checked)
    for r in answers:
        if r.status_code == 429:
            assert_error(r, 429, "too_many_attempts")
            assert 1 <= int(r.headers["retry-after"]) <= roomy.login_window_seconds
        else:
            assert_error(r, 401, "invalid_credentials")


def test_the_burst_counts_for_the_next_instance_too(roomy, monkeypatch, admin_db):
    asyncio.run(_burst(roomy, "again@example.com", "wrong-password"))
    recorded = admin_db.execute("select count(*) from login_attempts where email = 'again@example.com'")
    assert recorded.fetchone()[0] == roomy.login_max_failures

    async def from_elsewhere():  # another instance, another client: the e-mail is locked all the same
        async with served(roomy, ("203.0.113.9", 5000)) as (_, http):
            return await http.post("/api/auth/login", json={"email": "again@example.com",
                                                            "password": PASSWORD})
    assert_error(asyncio.run(from_elsewhere()), 429, "too_many_attempts")


def test_the_right_password_in_a_burst_of_wrong_ones_still_passes(roomy):
    async def mixed():
        async with served(roomy) as (_, http):
            await http.post("/api/auth/register", json={"email": "mixed@example.com",
                                                        "password": PASSWORD, "name": "M"})
            wrong = [http.post("/api/auth/login", json={"email": "mixed@example.com",
                                                        "password": "wrong-password"})
                     for _ in range(roomy.login_max_failures - 1)]
            right = http.post("/api/auth/login", json={"email": "mixed@example.com",
                                                       "password": PASSWORD})
            return await asyncio.gather(right, *wrong)
    answers = asyncio.run(mixed())
    assert answers[0].status_code == 200, answers[0].text
    assert all(r.status_code == 401 for r in answers[1:])
