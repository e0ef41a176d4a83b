"""Tokens that must not pass: alg none, a wrong key, a wrong audience, expired; revoked API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.security import ACCESS, ISSUER, VERIFY_EMAIL, digest
from tests.app.conftest import JWT_SECRET, assert_error


def _claims(user_id: str, **override) -> dict:
    now = datetime.now(UTC)
    return {"iss": ISSUER, "sub": user_id, "aud": ACCESS, "iat": now,
            "exp": now + timedelta(minutes=5), **override}


def _me(client, token: str):
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_a_well_formed_token_passes(client, make_user):
    user = make_user()
    assert _me(client, jwt.encode(_claims(user.id), JWT_SECRET, algorithm="HS256")).status_code == 200


@pytest.mark.parametrize("case", ["alg_none", "wrong_key", "wrong_audience", "expired", "wrong_issuer",
                                  "hs512", "no_exp", "generation_not_a_number"])
def test_forged_or_stale_tokens_are_401(client, make_user, case):
    user = make_user()
    claims = _claims(user.id)
    if case == "alg_none":
        token = jwt.encode(claims, None, algorithm="none")
    elif case == "wrong_key":
        token = jwt.encode(claims, "another-secret-of-sufficient-length-xx", algorithm="HS256")
    elif case == "wrong_audience":
        token = jwt.encode({**claims, "aud": VERIFY_EMAIL}, JWT_SECRET, algorithm="HS256")
    elif case == "expired":
        past = datetime.now(UTC) - timedelta(minutes=10)
        token = jwt.encode({**claims, "iat": past, "exp": past + timedelta(minutes=5)}, JWT_SECRET,
                           algorithm="HS256")
    elif case == "wrong_issuer":
        token = jwt.encode({**claims, "iss": "someone-else"}, JWT_SECRET, algorithm="HS256")
    elif case == "hs512":
        token = jwt.encode(claims, JWT_SECRET, algorithm="HS512")
    elif case == "generation_not_a_number":
        token = jwt.encode({**claims, "gen": "0"}, JWT_SECRET, algorithm="HS256")
    else:
        token = jwt.encode({k: v for k, v in claims.items() if k != "exp"}, JWT_SECRET, algorithm="HS256")
    assert_error(_me(client, token), 401, "invalid_token")


def test_a_token_names_only_its_own_session_generation(client, make_user):
    """Without `gen` (issued before generations existed) a token counts as generation 0; one
    naming a generation the person has not reached is no good either."""
    user = make_user()
    assert _me(client, jwt.encode({**_claims(user.id), "gen": 0}, JWT_SECRET,
                                  algorithm="HS256")).status_code == 200
    assert_error(_me(client, jwt.encode({**_claims(user.id), "gen": 1}, JWT_SECRET, algorithm="HS256")),
                 401, "session_ended")


def test_refresh_token_is_not_an_access_token(client, make_user):
    user = make_user()
    assert_error(_me(client, user.refresh_token), 401)


def test_revoked_api_key_stops_at_once(client, people, make_api_key):
    key = make_api_key(people.member, people.org_id)
    headers = {"Authorization": f"Bearer {key}"}
    key_id = client.get("/api/api-keys", headers=headers).json()["items"][0]["id"]
    assert client.delete(f"/api/api-keys/{key_id}", headers=headers).status_code == 204
    assert_error(client.get("/api/auth/me", headers=headers), 401, "invalid_api_key")


def test_legacy_plain_key_works(client, people, admin_db):
    admin_db.execute("insert into api_keys (organization_id, user_id, name, prefix, key_hash) "
                     "values (%s, %s, 'legacy bot', 'legacy', %s)",
                     (people.org_id, people.member.id, digest("plainlegacykey123")))
    r = client.get("/api/auth/me", headers={"Authorization": "Bearer plainlegacykey123"})
    assert r.status_code == 200 and r.json()["id"] == people.member.id


def test_api_key_cannot_leave_its_organization(client, people, make_org, make_api_key):
    other = make_org(people.admin)
    key = make_api_key(people.admin, people.org_id)
    headers = {"Authorization": f"Bearer {key}", "X-Organization-Id": other}
    assert_error(client.get("/api/roles", headers=headers), 404)
    assert_error(client.get(f"/api/organizations/{other}", headers=headers), 404)
    listed = client.get("/api/organizations", headers={"Authorization": f"Bearer {key}"}).json()["items"]
    assert [o["id"] for o in listed] == [people.org_id]


def test_deleted_user_token_is_refused(client, make_user, admin_db):
    user = make_user()
    admin_db.execute("update users set is_active = false where id = %s", (user.id,))
    assert_error(client.get("/api/auth/me", headers=user.headers()), 401, "inactive_user")
