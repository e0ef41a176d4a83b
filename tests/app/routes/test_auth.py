"""Auth over HTTP: register, verify, login, refresh rotation and reuse, logout, reset, me, limits."""

from __future__ import annotations

import bcrypt

from tests.app.conftest import PASSWORD, assert_error, outbox_token


def test_register_verify_login_me(client, settings):
    r = client.post("/api/auth/register", json={"email": "Ann@Example.com", "password": PASSWORD,
                                                "name": "Ann"})
    assert r.status_code == 201, r.text
    assert r.json()["email_verified"] is False
    token = outbox_token(settings.outbox_dir, "Ann@Example.com", "verify")
    r = client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    assert_error(client.post("/api/auth/verify-email", json={"token": token}), 400, "invalid_token")
    r = client.post("/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 15 * 60
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    me = client.get("/api/auth/me", headers=headers).json()
    assert set(me) == {"id", "email", "name", "email_verified", "created_at"}
    r = client.patch("/api/auth/me", json={"name": "Ann B"}, headers=headers)
    assert r.status_code == 200 and r.json()["name"] == "Ann B"


def test_email_taken_whatever_its_case(client, make_user):
    user = make_user("bob@example.com")
    r = client.post("/api/auth/register", json={"email": "BOB@example.com", "password": PASSWORD,
                                                "name": "Bob"})
    assert_error(r, 409, "email_taken")
    assert user.id


def test_login_failures_share_one_message(client, make_user):
    make_user("carol@example.com")
    wrong = client.post("/api/auth/login", json={"email": "carol@example.com", "password": "wrong-pass"})
    unknown = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "wrong-pass"})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_repeated_failures_reach_429_with_retry_after(client, make_user, settings):
    make_user("dave@example.com")
    for _ in range(settings.login_max_failures):
        assert client.post("/api/auth/login", json={"email": "dave@example.com",
                                                    "password": "wrong-pass"}).status_code == 401
    r = client.post("/api/auth/login", json={"email": "dave@example.com", "password": PASSWORD})
    assert_error(r, 429, "too_many_attempts")
    assert 1 <= int(r.headers["retry-after"]) <= settings.login_window_seconds


def test_per_client_limit_spans_emails(client, settings, admin_db):
    for attempt in range(settings.login_max_failures_per_client):
        client.post("/api/auth/login", json={"email": f"x{attempt}@example.com", "password": "wrong-pass"})
    r = client.post("/api/auth/login", json={"email": "fresh@example.com", "password": "wrong-pass"})
    assert_error(r, 429)
    count = admin_db.execute("select count(*) from login_attempts").fetchone()[0]
    assert count == settings.login_max_failures_per_client


def test_refresh_rotates_and_reuse_revokes_the_family(client, make_user):
    user = make_user()
    first = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    second_token = first.json()["refresh_token"]
    assert second_token != user.refresh_token
    reused = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(reused, 401, "refresh_token_reused")
    # The thief's reuse ended the whole family: the newest token is dead too.
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": second_token}), 401)


def test_logout_ends_the_session(client, make_user):
    user = make_user()
    r = client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}), 401,
                 "invalid_refresh_token")


def test_logout_all_ends_access_tokens_too(client, make_user):
    """(More in tests/app/test_sessions.py.)"""
    user = make_user()
    assert client.post("/api/auth/logout-all", headers=user.headers()).status_code == 204
    assert_error(client.get("/api/auth/me", headers=user.headers()), 401, "session_ended")
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}), 401)
    assert_error(client.post("/api/auth/logout-all"), 401)
    fresh = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert fresh.status_code == 200
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user.id


def test_forgot_and_reset_password(client, make_user, settings):
    user = make_user("erin@example.com")
    assert client.post("/api/auth/forgot-password", json={"email": "nobody@example.com"}).status_code == 202
    assert client.post("/api/auth/forgot-password", json={"email": "ERIN@example.com"}).status_code == 202
    token = outbox_token(settings.outbox_dir, "erin@example.com", "reset")
    # A reset token is not a verification token (each purpose has its own audience).
    assert_error(client.post("/api/auth/verify-email", json={"token": token}), 400)
    r = client.post("/api/auth/reset-password", json={"token": token, "password": "a new password"})
    assert r.status_code == 204
    assert_error(client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}), 401)
    assert_error(client.get("/api/auth/me", headers=user.headers()), 401, "session_ended")
    assert client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 401
    assert client.post("/api/auth/login", json={"email": user.email,
                                                "password": "a new password"}).status_code == 200
    assert_error(client.post("/api/auth/reset-password",
                             json={"token": token, "password": "third password"}), 400)


def test_a_reset_spends_every_other_reset_link(client, make_user, settings):
    user = make_user()
    tokens = []
    for _ in range(2):
        assert client.post("/api/auth/forgot-password", json={"email": user.email}).status_code == 202
        tokens.append(outbox_token(settings.outbox_dir, user.email, "reset"))
    assert tokens[0] != tokens[1]
    assert client.post("/api/auth/reset-password", json={"token": tokens[1],
                                                         "password": "the owner's choice"}).status_code == 204
    # The older link, left in a mailbox someone else may read, cannot undo the reset.
    assert_error(client.post("/api/auth/reset-password", json={"token": tokens[0],
                                                               "password": "the intruder's"}), 400,
                 "invalid_token")
    assert client.post("/api/auth/login", json={"email": user.email,
                                                "password": "the owner's choice"}).status_code == 200


def test_legacy_bcrypt_hash_verifies_and_is_upgraded(client, admin_db):
    legacy = bcrypt.hashpw(b"legacy password", bcrypt.gensalt(rounds=4)).decode()
    admin_db.execute("insert into users (email, name, password_hash) values (%s, 'Old', %s)",
                     ("old@example.com", legacy))
    r = client.post("/api/auth/login", json={"email": "old@example.com", "password": "legacy password"})
    assert r.status_code == 200, r.text
    stored = admin_db.execute("select password_hash from users where email = 'old@example.com'").fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert client.post("/api/auth/login", json={"email": "old@example.com",
                                                "password": "legacy password"}).status_code == 200


def _changed_during_the_check(monkeypatch, admin_db, change: str, email: str) -> None:  # noqa: ANN001
    """The password check passes, but the person's row changes while it runs (`change`)."""
    from app import login, security

    checked = security.verify_password

    async def check_then_change(password: str, stored: str | None) -> bool:
        ok = await checked(password, stored)
        admin_db.execute(change, (email,))
        return ok

    monkeypatch.setattr(login, "verify_password", check_then_change)


def test_no_session_starts_when_the_person_changed_while_the_password_was_checked(
        client, make_user, admin_db, monkeypatch):
    changes = ("update users set password_hash = 'replaced' where email = %s",  # a reset meanwhile
               "update users set is_active = false where email = %s",  # deactivated meanwhile
               "update users set session_generation = session_generation + 1 where email = %s")
    for change in changes:
        user = make_user()
        families = admin_db.execute("select count(*) from refresh_tokens").fetchone()[0]
        with monkeypatch.context() as patched:
            _changed_during_the_check(patched, admin_db, change, user.email)
            r = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert_error(r, 401, "invalid_credentials")
        assert admin_db.execute("select count(*) from refresh_tokens").fetchone()[0] == families
    unchanged = make_user()  # the same path without a change logs in
    with monkeypatch.context() as patched:
        _changed_during_the_check(patched, admin_db, "select %s", unchanged.email)
        assert client.post("/api/auth/login", json={"email": unchanged.email,
                                                    "password": PASSWORD}).status_code == 200
