"""Sessions that should end, end: logout everywhere and a password reset refuse every access
token and refresh token issued before, at once, whatever the clock; API keys are not sessions.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from app.security import ACCESS, ISSUER, digest
from tests.app.conftest import JWT_SECRET, PASSWORD, assert_error, outbox_token


def _login(client, user) -> dict:
    r = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(token: str, org_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if org_id:
        headers["X-Organization-Id"] = org_id
    return headers


def _refused(client, access: str, org_id: str) -> None:
    """`access` opens neither a personal route nor an organization's."""
    assert_error(client.get("/api/auth/me", headers=_bearer(access)), 401, "session_ended")
    assert_error(client.get("/api/roles", headers=_bearer(access, org_id)), 401, "session_ended")


def _works(client, access: str, org_id: str) -> None:
    assert client.get("/api/auth/me", headers=_bearer(access)).status_code == 200
    assert client.get("/api/roles", headers=_bearer(access, org_id)).status_code == 200


def test_logout_all_ends_every_session_at_once(client, people):
    user = people.member
    other_device = _login(client, user)
    r = client.post("/api/auth/logout-all", headers=user.headers())
    assert r.status_code == 204 and r.content == b""
    # Its own token, another device's, and both refresh tokens: all dead, in the same second.
    _refused(client, user.access_token, people.org_id)
    _refused(client, other_device["access_token"], people.org_id)
    for refresh in (user.refresh_token, other_device["refresh_token"]):
        assert_error(client.post("/api/auth/refresh", json={"refresh_token": refresh}), 401)
    assert_error(client.post("/api/auth/logout-all", headers=user.headers()), 401, "session_ended")
    # A fresh login starts over; other people keep their sessions.
    fresh = _login(client, user)
    _works(client, fresh["access_token"], people.org_id)
    assert client.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 200
    _works(client, people.viewer.access_token, people.org_id)


def test_a_token_of_the_old_generation_dies_whatever_its_times(client, people):
    """Issued after the logout, even: what counts is the generation, not the clock."""
    client.post("/api/auth/logout-all", headers=people.member.headers())
    now = datetime.now(UTC)  # after the logout-all, likely within the same second
    claims = {"iss": ISSUER, "sub": people.member.id, "aud": ACCESS, "iat": now,
              "exp": now + timedelta(minutes=5), "gen": 0}
    _refused(client, jwt.encode(claims, JWT_SECRET, algorithm="HS256"), people.org_id)
    without_generation = {k: v for k, v in claims.items() if k != "gen"}
    _refused(client, jwt.encode(without_generation, JWT_SECRET, algorithm="HS256"), people.org_id)
    _works(client, jwt.encode({**claims, "gen": 1}, JWT_SECRET, algorithm="HS256"), people.org_id)


def test_a_refresh_racing_logout_all_hands_out_a_dead_token(client, make_user, admin_db):
    """A refresh committed after logout-all's revocation left a token of the old generation:
    the generation stops it (and the access token it came with)."""
    user = make_user()
    assert client.post("/api/auth/logout-all", headers=user.headers()).status_code == 204
    late = "late-refresh-token-from-a-racing-refresh"
    admin_db.execute("insert into refresh_tokens (user_id, family_id, token_hash, session_generation, "
                     "expires_at) values (%s, %s, %s, 0, now() + interval '1 day')",
                     (user.id, uuid.uuid4(), digest(late)))
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": late}), 401,
                 "invalid_refresh_token")


def test_api_keys_outlive_logout_all_and_cannot_call_it(client, people, make_api_key):
    key = make_api_key(people.member, people.org_id)
    assert_error(client.post("/api/auth/logout-all", headers=_bearer(key)), 403, "person_required")
    _works(client, people.member.access_token, people.org_id)  # the key ended nothing
    assert client.post("/api/auth/logout-all", headers=people.member.headers()).status_code == 204
    assert client.get("/api/roles", headers=_bearer(key)).status_code == 200
    assert client.get("/api/auth/me", headers=_bearer(key)).status_code == 200


def test_a_password_reset_ends_every_access_token(client, people, settings):
    user = people.member
    assert client.post("/api/auth/forgot-password", json={"email": user.email}).status_code == 202
    token = outbox_token(settings.outbox_dir, user.email, "reset")
    assert client.post("/api/auth/reset-password",
                       json={"token": token, "password": "a brand new password"}).status_code == 204
    _refused(client, user.access_token, people.org_id)
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}), 401)
    assert_error(client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}), 401)
    fresh = client.post("/api/auth/login", json={"email": user.email, "password": "a brand new password"})
    assert fresh.status_code == 200
    _works(client, fresh.json()["access_token"], people.org_id)


def _bearer_routes(client) -> list[tuple[str, str]]:
    """Every operation the served OpenAPI document says takes a bearer credential."""
    paths = client.get("/openapi.json").json()["paths"]
    return sorted((method.upper(), path) for path, operations in paths.items()
                  for method, operation in operations.items()
                  if {"bearer": []} in operation.get("security", []))


def test_no_route_honours_an_ended_session(client, people):
    """Whatever the route, an access token from before logout-all gets 401 `session_ended`."""
    stale = people.admin.access_token
    assert client.post("/api/auth/logout-all", headers=people.admin.headers()).status_code == 204
    routes = _bearer_routes(client)
    assert len(routes) >= 40 and ("POST", "/api/auth/logout-all") in routes
    honoured = []
    for method, path in routes:
        filled = re.sub(r"\{[^}]+\}", lambda m: people.org_id if m.group(0) == "{id}" else str(uuid.uuid4()),
                        path)
        r = client.request(method, filled, headers=_bearer(stale, people.org_id), json={})
        if r.status_code != 401 or r.json()["error"]["code"] != "session_ended":
            honoured.append((method, path, r.status_code))
    assert honoured == []
