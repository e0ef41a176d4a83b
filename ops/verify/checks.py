"""The checks: health, readiness and level, the auth flow, tenant isolation, the bot's key.

Each check is a function of a `Probe`; a failure is a CheckFailed with one sentence (never an
`assert`, which `python -O` would remove).
Everything a run creates carries its run id and is removed at the end (throw-away users
too, when the owner's database URL is given, as on the local stack).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from app.private_files import private_dir, write_private
from ops.verify.errors import CheckFailed, require
from ops.verify.outbox import token_for

DOMAIN = "example.com"  # reserved by RFC 2606: mail to it never reaches anyone


@dataclass
class Report:
    """What each check found."""

    base_url: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> dict:
        return {"base_url": self.base_url, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "seconds": round(self.seconds, 2)}


@dataclass
class Probe:
    """One verify run: its HTTP client, its run id and what it created."""

    client: httpx.Client
    outbox: Path | None
    expected_level: str | None
    bot_key_file: Path | None
    run: str = field(default_factory=lambda: secrets.token_hex(4))
    emails: list[str] = field(default_factory=list)
    orgs: list[tuple[str, str]] = field(default_factory=list)  # (org id, owner's token)

    def expect(self, response: httpx.Response, status: int, what: str) -> dict:
        require(response.status_code == status,
                f"{what}: expected {status}, got {response.status_code} {response.text[:160]}")
        return response.json() if response.content else {}

    def person(self, label: str) -> str:
        """Register, verify (through the outbox) and log in a throw-away person; their token."""
        email = f"verify-{self.run}-{label}@{DOMAIN}"
        password = secrets.token_urlsafe(18)
        self.emails.append(email)
        self.expect(self.client.post("/api/auth/register", json={
            "email": email, "password": password, "name": f"verify {label}"}), 201, "register")
        token = token_for(self.outbox, email) if self.outbox else None
        require(bool(token), f"no verification e-mail for {email} arrived in {self.outbox}")
        user = self.expect(self.client.post("/api/auth/verify-email", json={"token": token}), 200,
                           "verify-email")
        require(user.get("email_verified") is True, "verify-email did not mark the e-mail verified")
        pair = self.expect(self.client.post("/api/auth/login", json={
            "email": email, "password": password}), 200, "login")
        return pair["access_token"]

    def organization(self, token: str, label: str) -> str:
        slug = f"verify-{self.run}-{label}"
        org = self.expect(self.client.post("/api/organizations", json={"name": slug, "slug": slug},
                                           headers=_bearer(token)), 201, "create organization")
        self.orgs.append((org["id"], token))
        return org["id"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_health(probe: Probe) -> None:
    body = probe.expect(probe.client.get("/api/health"), 200, "GET /api/health")
    require(body.get("status") == "ok", f"/api/health said {body}")


def check_ready(probe: Probe) -> None:
    body = probe.expect(probe.client.get("/api/health/ready"), 200, "GET /api/health/ready")
    level = body.get("schema_level")
    if probe.expected_level:
        require(level == probe.expected_level,
                f"the schema is at {level}, the deploy expects {probe.expected_level}")


def check_auth_flow(probe: Probe) -> None:
    token = probe.person("auth")
    me = probe.expect(probe.client.get("/api/auth/me", headers=_bearer(token)), 200, "GET /api/auth/me")
    require(me.get("email_verified") is True, "the logged-in person is not verified")


def check_tenant_isolation(probe: Probe) -> None:
    alice, bob = probe.person("a"), probe.person("b")
    org_a, org_b = probe.organization(alice, "a"), probe.organization(bob, "b")
    probe.expect(probe.client.get(f"/api/organizations/{org_a}", headers=_bearer(alice)), 200,
                 "the owner reads her organization")
    for path in (f"/api/organizations/{org_a}", f"/api/organizations/{org_a}/teams"):
        answer = probe.client.get(path, headers=_bearer(bob))
        require(answer.status_code == 404, f"another tenant got {answer.status_code} from {path}")
    listed = probe.expect(probe.client.get("/api/organizations", headers=_bearer(bob)), 200, "list")
    ids = {item["id"] for item in listed.get("items", [])}
    require(org_a not in ids and org_b in ids, "organization listing crosses tenants")


def check_bot_key(probe: Probe) -> None:
    """The bot's key from an earlier run still works (created on the first run)."""
    if probe.bot_key_file is None:
        raise _Skip("no bot key file for this stack")
    if not probe.bot_key_file.exists():
        token = probe.person("bot")
        org = probe.organization(token, "bot")
        probe.orgs.pop()  # the bot's organization outlives this run on purpose
        probe.emails.pop()
        key = probe.expect(probe.client.post("/api/api-keys", json={"name": "verify bot"},
                                             headers={**_bearer(token), "X-Organization-Id": org}),
                           201, "create the bot's API key")["key"]
        private_dir(probe.bot_key_file.parent)
        write_private(probe.bot_key_file, key)
    key = probe.bot_key_file.read_text().strip()
    probe.expect(probe.client.get("/api/auth/me", headers=_bearer(key)), 200, "the bot's API key")


class _Skip(Exception):
    pass


CHECKS: list[tuple[str, Callable[[Probe], None], bool]] = [
    ("health", check_health, False),
    ("ready", check_ready, False),
    ("auth flow", check_auth_flow, True),
    ("tenant isolation", check_tenant_isolation, True),
    ("bot api key", check_bot_key, True),
]


def run_checks(base_url: str, *, outbox: Path | None = None, admin_url: str | None = None,
               expected_level: str | None = None, bot_key_file: Path | None = None,
               timeout: float = 10) -> Report:
    """Run every check against `base_url`; checks needing the outbox are skipped without it."""
    report, started = Report(base_url), time.monotonic()
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        probe = Probe(client, outbox, expected_level, bot_key_file)
        try:
            for name, check, needs_mail in CHECKS:
                if needs_mail and outbox is None:
                    report.skipped.append(f"{name} (no outbox to read tokens from)")
                    continue
                try:
                    check(probe)
                    report.passed.append(name)
                except _Skip as reason:
                    report.skipped.append(f"{name} ({reason})")
                except (CheckFailed, httpx.HTTPError, KeyError, ValueError) as error:
                    report.failed.append(f"{name}: {error}")
        finally:
            try:
                _clean_up(probe, admin_url)
            except (httpx.HTTPError, psycopg.Error) as error:
                report.failed.append(f"clean-up: {error}")
    report.seconds = time.monotonic() - started
    return report


def _clean_up(probe: Probe, admin_url: str | None) -> None:
    for org, token in probe.orgs:
        probe.client.delete(f"/api/organizations/{org}", headers=_bearer(token))
    if admin_url and probe.emails:
        # The API only soft-deletes organizations and deletes no user; on a stack whose owner
        # URL we hold, the throw-away rows go for good (organizations first: their last-Admin
        # rule lets go once the organization is gone).
        with psycopg.connect(admin_url) as conn, conn.transaction():
            conn.execute("delete from organizations where id = any(%s::uuid[])",
                         ([org for org, _ in probe.orgs],))
            conn.execute("delete from users where email = any(%s)", (probe.emails,))
            # Its e-mails leave the API's sending limits (from 0016 on): verify as often as needed.
            if conn.execute("select to_regclass('email_sends')").fetchone()[0] is not None:
                conn.execute("delete from email_sends where address = any(%s)", (probe.emails,))
