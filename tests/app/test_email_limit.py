"""E-mails the API sends are limited per address and per caller, in the database (so across
instances): verification on register, reset links, invitations. Over the limit: 429 with
Retry-After, nothing sent, nothing created; known and unknown addresses are counted alike.
"""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.asgi import served
from tests.app.conftest import PASSWORD, assert_error

PER_ADDRESS, PER_CALLER = 2, 4


@pytest.fixture
def tight(settings):
    return settings.model_copy(update={"email_max_per_address": PER_ADDRESS,
                                       "email_max_per_caller": PER_CALLER})


@pytest.fixture
def limited(tight) -> Iterator[TestClient]:
    """The API with small e-mail limits, over the test's database."""
    with TestClient(create_app(tight)) as test_client:
        yield test_client


def _mails(settings, to: str) -> int:
    return sum(email.message_from_bytes(p.read_bytes())["To"].lower() == to.lower()
               for p in settings.outbox_dir.glob("*.eml"))


def _too_many(response, settings) -> None:
    assert_error(response, 429, "too_many_emails")
    assert 1 <= int(response.headers["retry-after"]) <= settings.email_window_seconds


def _forgot(client, address: str):
    return client.post("/api/auth/forgot-password", json={"email": address})


def test_forgot_password_limits_known_and_unknown_addresses_alike(limited, tight, admin_db):
    admin_db.execute("insert into users (email, name) values ('known@example.com', 'Known')")
    for address in ("known@example.com", "unknown@example.com"):
        answers = [_forgot(limited, address) for _ in range(PER_ADDRESS + 1)]
        assert [r.status_code for r in answers] == [202] * PER_ADDRESS + [429], address
        _too_many(answers[-1], tight)
    assert _mails(tight, "known@example.com") == PER_ADDRESS
    assert _mails(tight, "unknown@example.com") == 0
    # Case does not make a new address.
    _too_many(_forgot(limited, "KNOWN@Example.com"), tight)


def test_one_caller_cannot_mail_many_addresses(limited, tight, admin_db):
    for i in range(PER_CALLER):
        assert _forgot(limited, f"victim{i}@example.com").status_code == 202
    _too_many(_forgot(limited, "victim-next@example.com"), tight)
    r = limited.post("/api/auth/register", json={"email": "spam@example.com", "password": PASSWORD,
                                                 "name": "Spam"})
    _too_many(r, tight)
    assert admin_db.execute("select count(*) from users where email = 'spam@example.com'").fetchone()[0] == 0
    assert _mails(tight, "spam@example.com") == 0
    # Another client is another caller.
    with TestClient(create_app(tight), client=("203.0.113.5", 50000)) as elsewhere:
        assert _forgot(elsewhere, "victim-next@example.com").status_code == 202


def test_register_counts_against_the_address(limited, tight, admin_db):
    for _ in range(PER_ADDRESS):
        assert _forgot(limited, "new@example.com").status_code == 202
    r = limited.post("/api/auth/register", json={"email": "new@example.com", "password": PASSWORD,
                                                 "name": "New"})
    _too_many(r, tight)
    assert admin_db.execute("select count(*) from users where email = 'new@example.com'").fetchone()[0] == 0


def test_a_failed_register_is_not_counted(limited, tight, admin_db):
    """409 email_taken sends nothing, so it uses up nothing."""
    admin_db.execute("insert into users (email, name) values ('taken@example.com', 'Taken')")
    for _ in range(PER_CALLER + 1):
        r = limited.post("/api/auth/register", json={"email": "taken@example.com", "password": PASSWORD,
                                                      "name": "Again"})
        assert_error(r, 409, "email_taken")
    assert admin_db.execute("select count(*) from email_sends").fetchone()[0] == 0


def test_invitations_are_limited_per_person(limited, tight, people, admin_db):
    org, headers = people.org_id, people.admin.headers()
    url = f"/api/organizations/{org}/invitations"
    for i in range(PER_CALLER):
        r = limited.post(url, json={"email": f"guest{i}@example.com", "role": "Viewer"}, headers=headers)
        assert r.status_code == 201, r.text
    r = limited.post(url, json={"email": "one-too-many@example.com", "role": "Viewer"}, headers=headers)
    _too_many(r, tight)
    admin_db.execute("select set_config('app.org_id', %s, false)", (org,))
    invited = admin_db.execute("select email from invitations order by email").fetchall()
    assert [row[0] for row in invited] == [f"guest{i}@example.com" for i in range(PER_CALLER)]
    assert _mails(tight, "one-too-many@example.com") == 0
    # The person is the caller, whichever client they come from.
    with TestClient(create_app(tight), client=("203.0.113.6", 50000)) as elsewhere:
        _too_many(elsewhere.post(url, json={"email": "other@example.com", "role": "Viewer"},
                                 headers=headers), tight)


def test_an_address_flooded_with_reset_links_gets_no_invitation_either(limited, tight, people):
    with TestClient(create_app(tight), client=("203.0.113.7", 50000)) as flooder:
        for _ in range(PER_ADDRESS):
            assert _forgot(flooder, "flooded@example.com").status_code == 202
    r = limited.post(f"/api/organizations/{people.org_id}/invitations",
                     json={"email": "flooded@example.com", "role": "Viewer"}, headers=people.admin.headers())
    _too_many(r, tight)


def test_a_concurrent_burst_sends_no_more_than_the_limit(tight, admin_db):
    admin_db.execute("insert into users (email, name) values ('burst@example.com', 'Burst')")
    roomy = tight.model_copy(update={"pool_max_size": 12, "pool_min_size": 4,
                                     "email_max_per_caller": 100})

    async def burst():
        async with served(roomy) as (_, http):
            return await asyncio.gather(*(http.post("/api/auth/forgot-password",
                                                    json={"email": "burst@example.com"})
                                          for _ in range(30)))
    statuses = sorted(r.status_code for r in asyncio.run(burst()))
    assert statuses == [202] * PER_ADDRESS + [429] * (30 - PER_ADDRESS)
    assert admin_db.execute("select count(*) from email_sends").fetchone()[0] == PER_ADDRESS
    assert _mails(tight, "burst@example.com") == PER_ADDRESS
