"""Legacy users: de-duplicated by e-mail (case and spaces ignored), folded, and resolved
against people who already exist in the target (users are global in the new schema).

A legacy user is merged only into an account whose owner proved the address: e-mail verified,
or created by an earlier legacy import (the operator's data, like this file). An account that
merely registered the address without verifying it could be anyone's: it is displaced (moved
to a placeholder address by the importer) and the legacy user gets an account of its own, so
that stranger holds nothing of the import. Merges never enable anybody: duplicates fold with
the stricter is_active, and a legacy user disabled in the file gets no membership (keys
and sessions quarantined) in an existing account, whose own is_active is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from legacy import values
from legacy.ids import RowIds
from legacy.report import Report
from legacy.values import EPOCH, ROLE_RANK, ROLES, Unreadable

T = TypeVar("T")

USERS_QUERY = ("select id, email, name, password_hash, telegram_id, role, is_active, created_at "
               "from users order by id")
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
NAME_MAX = 200


@dataclass
class Person:
    """One surviving legacy user (after e-mail merges), in the new schema's terms."""

    legacy_id: int
    email: str
    name: str
    password_hash: str | None
    telegram_id: int | None
    role: str
    is_active: bool
    created_at: datetime


@dataclass
class UserPlan:
    """Who every legacy user id became: a new person, or one that already existed."""

    people: dict[int, Person] = field(default_factory=dict)
    alias: dict[int, int] = field(default_factory=dict)  # merged legacy id -> survivor legacy id
    existing: dict[int, uuid.UUID] = field(default_factory=dict)  # survivor -> existing user id
    # survivor -> the unverified account that held its e-mail (the importer moves it aside)
    displaced: dict[int, uuid.UUID] = field(default_factory=dict)
    # survivors merged into an existing account while disabled in the file: no access given
    withheld: set[int] = field(default_factory=set)
    ids: RowIds | None = None

    def user_id(self, legacy_id: int | None) -> uuid.UUID | None:
        """The target user of a legacy user id, or None when that user is gone."""
        if legacy_id is None:
            return None
        survivor = self.alias.get(legacy_id, legacy_id)
        if survivor not in self.people:
            return None
        return self.existing.get(survivor) or self.ids.of("users", survivor)

    def created(self) -> Iterable[Person]:
        return (p for p in self.people.values() if p.legacy_id not in self.existing)

    def members(self) -> Iterable[Person]:
        """The people who become members of the organization, with their role."""
        return (p for p in self.people.values() if p.legacy_id not in self.withheld)

    def is_withheld(self, legacy_id: int | None) -> bool:
        """Whether legacy user `legacy_id` is disabled in the file and an existing account's."""
        return legacy_id is not None and self.alias.get(legacy_id, legacy_id) in self.withheld


@dataclass
class Found:
    """The target's users a legacy file's e-mails and telegram ids meet."""

    trusted: dict[str, uuid.UUID] = field(default_factory=dict)  # lower(email) -> id; merge into
    unverified: dict[str, uuid.UUID] = field(default_factory=dict)  # lower(email) -> id; displace
    telegram_taken: set[int] = field(default_factory=set)


# Given lower-cased e-mails and telegram ids, the target's existing users.
Resolver = Callable[[list[str], list[int]], Found]


def _person(row: tuple, slug: str, report: Report) -> Person:
    legacy_id, email, name, password, telegram, role, active, created = row
    address = values.email_of(email)
    if address is None:
        address = f"legacy-user-{legacy_id}@{slug}.invalid"
        report.fix("users", "e-mail missing or not an address: placeholder <id>@<slug>.invalid", legacy_id)
    clean_name = (values.clean_text(name) or "").strip()
    if len(clean_name) > NAME_MAX:
        clean_name = clean_name[:NAME_MAX]
        report.fix("users", "name longer than 200 characters: truncated", legacy_id)
    password = values.clean_text(password)
    if password is not None and not password.startswith(BCRYPT_PREFIXES):
        password = None
        report.fix("users", "password hash not bcrypt: cleared (reset needed)", legacy_id)
    return Person(legacy_id, address, clean_name, password, _telegram(telegram, legacy_id, report),
                  _role(role, legacy_id, report), _active(active, legacy_id, report),
                  _created(created, legacy_id, report))


def _telegram(value: object, legacy_id: int, report: Report) -> int | None:
    try:
        return values.integer(value)
    except Unreadable:
        report.fix("users", "telegram_id not a number: cleared", legacy_id)
        return None


def _role(value: object, legacy_id: int, report: Report) -> str:
    if value is None:
        report.fix("users", "role NULL: Member (the legacy default)", legacy_id)
        return "Member"
    role = values.mapped(value, ROLES)
    if role is None:
        report.fix("users", "role unknown: Viewer (least privilege)", legacy_id)
        return "Viewer"
    return role


def _or_default(parse: Callable[[object], T | None], value: object, default: T, note: str,
                legacy_id: int, report: Report) -> T:
    """`parse(value)`, or `default` with a note in the report when it is NULL or unreadable."""
    try:
        parsed = parse(value)
    except Unreadable:
        parsed = None
    if parsed is None:
        report.fix("users", note, legacy_id)
        return default
    return parsed


def _active(value: object, legacy_id: int, report: Report) -> bool:
    return _or_default(values.boolean, value, True,
                       "is_active NULL or unreadable: true (the legacy default)", legacy_id, report)


def _created(value: object, legacy_id: int, report: Report) -> datetime:
    return _or_default(values.timestamp, value, EPOCH,
                       "created_at NULL or unreadable: 1970-01-01 UTC", legacy_id, report)


def _fold(survivor: Person, other: Person) -> None:
    """Merge a duplicate into its survivor: keep what the survivor lacks, the higher role."""
    survivor.password_hash = survivor.password_hash or other.password_hash
    survivor.telegram_id = survivor.telegram_id if survivor.telegram_id is not None else other.telegram_id
    survivor.name = survivor.name or other.name
    survivor.is_active = survivor.is_active and other.is_active  # a merge enables nobody
    survivor.created_at = min(survivor.created_at, other.created_at)
    if ROLE_RANK[other.role] > ROLE_RANK[survivor.role]:
        survivor.role = other.role


def plan_users(rows: Iterable[tuple], slug: str, ids: RowIds, resolve: Resolver,
               report: Report) -> UserPlan:
    """Read every legacy user, merge e-mail duplicates and resolve them against the target."""
    plan = UserPlan(ids=ids)
    by_email: dict[str, int] = {}
    for row in rows:
        report.read("users")
        person = _person(row, slug, report)
        key = person.email.lower()
        if key in by_email:
            survivor = by_email[key]
            plan.alias[person.legacy_id] = survivor
            if plan.people[survivor].is_active != person.is_active:
                report.fix("users", "is_active differs between duplicates: false (fail closed)",
                           survivor)
            _fold(plan.people[survivor], person)
            report.merged("users", person.legacy_id, "same e-mail as another user (case and "
                          "spaces ignored)", survivor)
            continue
        by_email[key] = person.legacy_id
        plan.people[person.legacy_id] = person
    _resolve(plan, resolve, report)
    return plan


def _resolve(plan: UserPlan, resolve: Resolver, report: Report) -> None:
    telegrams = [p.telegram_id for p in plan.people.values() if p.telegram_id is not None]
    found = resolve([p.email.lower() for p in plan.people.values()], telegrams)
    seen: set[int] = set()
    for person in plan.people.values():
        key = person.email.lower()
        if key in found.trusted:
            plan.existing[person.legacy_id] = found.trusted[key]
            report.merged("users", person.legacy_id, "e-mail belongs to a user already in the "
                          "target", str(found.trusted[key]))
            if not person.is_active:
                plan.withheld.add(person.legacy_id)
                report.fix("users", "disabled, merged into an existing account: no membership, "
                           "keys and sessions quarantined (the account itself unchanged)",
                           person.legacy_id)
            continue
        if key in found.unverified:
            plan.displaced[person.legacy_id] = found.unverified[key]
            report.fix("users", "e-mail held by an unverified account: that account moved to "
                       "displaced-<its id>@<slug>.invalid, this user created", person.legacy_id)
        report.imported("users")
        if person.telegram_id is None:
            continue
        if person.telegram_id in seen or person.telegram_id in found.telegram_taken:
            report.fix("users", "telegram_id already used by another user: cleared", person.legacy_id)
            person.telegram_id = None
        else:
            seen.add(person.telegram_id)


def stored_resolver(recorded: dict[str, Any]) -> Resolver:
    """A resolver replaying the decisions an import recorded (for verification)."""
    def resolve(emails: list[str], telegrams: list[int]) -> Found:
        return Found({k: uuid.UUID(v) for k, v in recorded.get("existing", {}).items()},
                     {k: uuid.UUID(v) for k, v in recorded.get("unverified", {}).items()},
                     set(recorded.get("telegram_taken", [])))
    return resolve
