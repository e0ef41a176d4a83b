"""Browser sessions over HTTP: the refresh token only in an HttpOnly cookie, and its attacks.

Every request here sends the cookie by hand (the client's jar is emptied first), so each test
says exactly which cookie a browser, or an attacker, presents.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.routes.session_cookie import COOKIE, COOKIE_PATH
from tests.app.conftest import PASSWORD, assert_error

CSRF = {"X-Requested-With": "miyabi-dashboard"}


@pytest.fixture
def browser(settings) -> Iterator[TestClient]:
    """The API over https (the cookie is Secure), as a page of the same site calls it."""
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


def call(client: TestClient, method: str, path: str, cookie: str | None = None,
         headers: dict[str, str] | None = None, **kwargs):
    client.cookies.clear()
    sent = dict(headers if headers is not None else CSRF)
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE}={cookie}"
    return client.request(method, path, headers=sent, **kwargs)


def set_cookie(response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def log_in(client, email: str, remember: bool = False) -> tuple[str, str]:
    r = call(client, "POST", "/api/auth/session", json={"email": email, "password": PASSWORD,
                                                         "remember": remember})
    assert r.status_code == 200, r.text
    return r.json()["access_token"], set_cookie(r)[COOKIE].value


def test_login_sets_an_httponly_secure_strict_cookie_scoped_to_the_session_path(browser, make_user):
    user = make_user()
    r = call(browser, "POST", "/api/auth/session", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in"}  # no refresh token in JSON
    morsel = set_cookie(r)[COOKIE]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "strict"
    assert morsel["path"] == COOKIE_PATH
    assert morsel["max-age"] == "" and morsel["expires"] == ""  # a session cookie
    me = browser.get("/api/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user.id


def test_remember_me_makes_the_cookie_persistent_across_rotations(browser, make_user, settings):
    user = make_user()
    _, cookie = log_in(browser, user.email, remember=True)
    r = call(browser, "POST", "/api/auth/session/refresh", cookie)
    assert r.status_code == 200, r.text
    assert set_cookie(r)[COOKIE]["max-age"] == str(settings.refresh_token_days * 86400)
    _, session_only = log_in(browser, user.email)
    r = call(browser, "POST", "/api/auth/session/refresh", session_only)
    assert set_cookie(r)[COOKIE]["max-age"] == ""


def test_wrong_password_sets_no_cookie(browser, make_user):
    user = make_user()
    r = call(browser, "POST", "/api/auth/session", json={"email": user.email, "password": "wrong-password"})
    assert_error(r, 401, "invalid_credentials")
    assert COOKIE not in set_cookie(r)


def test_refresh_rotates_and_the_spent_cookie_revokes_the_whole_session(browser, make_user):
    user = make_user()
    _, first = log_in(browser, user.email)
    r = call(browser, "POST", "/api/auth/session/refresh", first)
    assert r.status_code == 200, r.text
    second = set_cookie(r)[COOKIE].value
    assert second != first
    assert browser.get("/api/auth/me", headers={
        "Authorization": f"Bearer {r.json()['access_token']}"}).status_code == 200
    # An attacker replays the spent cookie: refused, and the cookie is cleared...
    r = call(browser, "POST", "/api/auth/session/refresh", first)
    assert_error(r, 401, "refresh_token_reused")
    assert set_cookie(r)[COOKIE]["max-age"] == "0"
    # ...and the legitimate successor is dead too: the family is revoked.
    assert_error(call(browser, "POST", "/api/auth/session/refresh", second), 401, "invalid_refresh_token")


def test_refresh_without_the_csrf_header_is_refused_and_spends_nothing(browser, make_user):
    user = make_user()
    _, cookie = log_in(browser, user.email)
    assert_error(call(browser, "POST", "/api/auth/session/refresh", cookie, headers={}), 403,
                 "csrf_check_failed")
    # The cookie is still good: the refused call did not spend it.
    assert call(browser, "POST", "/api/auth/session/refresh", cookie).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://testserver.evil.example"])
def test_a_foreign_origin_is_refused_even_with_the_header(browser, make_user, origin):
    user = make_user()
    _, cookie = log_in(browser, user.email)
    r = call(browser, "POST", "/api/auth/session/refresh", cookie, headers={**CSRF, "Origin": origin})
    assert_error(r, 403, "csrf_check_failed")
    r = call(browser, "POST", "/api/auth/session", headers={**CSRF, "Origin": origin},
             json={"email": user.email, "password": PASSWORD})
    assert_error(r, 403, "csrf_check_failed")
    assert_error(call(browser, "DELETE", "/api/auth/session", cookie, headers={"Origin": origin}), 403)
    # Same site: accepted.
    r = call(browser, "POST", "/api/auth/session/refresh", cookie,
             headers={**CSRF, "Origin": "https://testserver"})
    assert r.status_code == 200, r.text


def test_logout_revokes_the_session_and_clears_the_cookie(browser, make_user):
    user = make_user()
    _, cookie = log_in(browser, user.email, remember=True)
    r = call(browser, "DELETE", "/api/auth/session", cookie)
    assert r.status_code == 204
    morsel = set_cookie(r)[COOKIE]
    assert morsel.value == "" and morsel["max-age"] == "0" and morsel["path"] == COOKIE_PATH
    # A copy of the cookie kept from before the logout is worthless.
    assert_error(call(browser, "POST", "/api/auth/session/refresh", cookie), 401, "invalid_refresh_token")


@pytest.mark.parametrize("cookie", [None, "", "x", "p.", "q.abc", "s.not-a-token"])
def test_refresh_with_no_or_a_forged_cookie(browser, cookie):
    r = call(browser, "POST", "/api/auth/session/refresh", cookie)
    malformed = cookie in (None, "", "x", "p.", "q.abc")
    assert_error(r, 401, "no_session" if malformed else "invalid_refresh_token")
    assert r.headers["www-authenticate"] == "Bearer"


def test_the_json_refresh_token_endpoints_stay_for_scripts(client, make_user):
    user = make_user()
    r = client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 200 and "refresh_token" in r.json()
