"""Keyset pagination: the helper, then every paginated route through it.

Each route pages by its resource's Keyset: a walk with small pages sees every row exactly once,
in key order, even when many rows share `created_at`; a cursor that is not one the API gave out
(of any kind: not base64, not JSON, not a list of strings, the wrong number or type of parts) is
400 `invalid_cursor`, before any SQL runs.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from app.errors import ApiError
from app.pagination import READ, Keyset, Page, decode_cursor, encode_cursor
from app.resources.agents import AGENT_KEYSET
from app.resources.api_keys import API_KEY_KEYSET
from app.resources.audit_log import ENTRY_KEYSET
from app.resources.invitations import INVITATION_KEYSET
from app.resources.organizations import MEMBER_KEYSET, ORGANIZATION_KEYSET
from app.resources.roles import ROLE_KEYSET
from app.resources.tasks import TASK_KEYSET
from app.resources.teams import TEAM_KEYSET
from app.routes import ROUTERS
from tests.app.conftest import assert_error, walk
from tests.db.seed import as_tenant

ID = uuid.UUID("0b6f3c1e-7a52-4d0e-9f7a-2c1d3e4f5a6b")
AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
NEWEST_FIRST = Keyset(("created_at", datetime), ("id", uuid.UUID), descending=True)

# Cursors the API gave out before the Keyset helper, byte for byte.
GIVEN_OUT = {
    "tasks (rendered by PostgreSQL)": (
        "WyIyMDI0LTA1LTA2VDA3OjA4OjA5LjEyMzQ1NiswMDowMCIsIjBiNmYzYzFlLTdhNTItNGQwZS05ZjdhLTJjMWQzZTRmNWE2YiJd",
        NEWEST_FIRST, {"after_created_at": AT, "after_id": ID}),
    "a datetime without microseconds": (
        "WyIyMDI0LTA1LTA2VDA3OjA4OjA5KzAwOjAwIiwiMGI2ZjNjMWUtN2E1Mi00ZDBlLTlmN2EtMmMxZDNlNGY1YTZiIl0",
        NEWEST_FIRST, {"after_created_at": AT.replace(microsecond=0), "after_id": ID}),
    "the audit log's id": ("WyI0MiJd", ENTRY_KEYSET, {"after_id": 42}),
}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_of(value: object) -> str:
    return b64(json.dumps(value).encode())


VALID = {datetime: "2024-05-06T07:08:09+00:00", uuid.UUID: str(ID), int: "42"}
MALFORMED_PART = {
    datetime: ["", "yesterday", "2024-13-01T00:00:00+00:00", "2024-05-06T07:08:09"],  # the last: no offset
    uuid.UUID: ["", "nope", "0b6f3c1e-7a52-4d0e-9f7a"],
    int: ["", "x", "-1", "4.2", "1" * 19, "\u0661\u0662"],  # the last: Arabic-Indic digits
}


def malformed_cursors(keyset: Keyset) -> dict[str, str]:
    """Every kind of cursor the API never gives out for `keyset`, by what is wrong with it."""
    valid = [VALID[part.type] for part in keyset.parts]
    cursors = {
        "not base64": "%%%",
        "not JSON": b64(b"nope"),
        "not a list": cursor_of({"created_at": valid[0]}),
        "a string": cursor_of(valid[0]),
        "parts not strings": cursor_of([1] * len(valid)),
        "no parts": cursor_of([]),
        "a part short": cursor_of(valid[:-1]),
        "a part too many": cursor_of([*valid, valid[0]]),
    }
    for index, part in enumerate(keyset.parts):
        for text in MALFORMED_PART[part.type]:
            cursors[f"{part.field} = {text!r}"] = cursor_of([*valid[:index], text, *valid[index + 1:]])
    return cursors


# The helper on its own


@pytest.mark.parametrize("name", GIVEN_OUT)
def test_cursors_given_out_before_are_read(name: str) -> None:
    cursor, keyset, expected = GIVEN_OUT[name]
    assert keyset.seek(Page(limit=10, cursor=decode_cursor(cursor))).after == expected


def test_a_cursor_reads_back_as_the_row_key_it_was_made_from() -> None:
    row = {"created_at": AT, "id": ID, "title": "ignored"}
    seek = NEWEST_FIRST.seek(Page(limit=5, cursor=decode_cursor(NEWEST_FIRST.cursor(row))))
    assert seek.after == {"after_created_at": AT, "after_id": ID}
    assert NEWEST_FIRST.cursor(row) == encode_cursor([AT.isoformat(), str(ID)])


@pytest.mark.parametrize("keyset", [NEWEST_FIRST, ENTRY_KEYSET, MEMBER_KEYSET],
                         ids=["time and uuid", "int", "columns"])
def test_every_malformed_cursor_is_invalid_cursor(keyset: Keyset) -> None:
    for what, cursor in malformed_cursors(keyset).items():
        with pytest.raises(ApiError) as raised:
            keyset.seek(Page(limit=5, cursor=decode_cursor(cursor)))
        assert (raised.value.status, raised.value.code) == (400, "invalid_cursor"), what
        assert raised.value.message == "The cursor is not one this API gave out.", what


def test_the_sql_says_the_key_once() -> None:
    assert NEWEST_FIRST.order_by == "created_at desc, id desc"
    assert NEWEST_FIRST.condition == "(created_at, id) < (%(after_created_at)s, %(after_id)s)"
    assert MEMBER_KEYSET.order_by == "m.created_at, m.user_id"
    assert MEMBER_KEYSET.condition == "(m.created_at, m.user_id) > (%(after_joined_at)s, %(after_user_id)s)"
    assert ENTRY_KEYSET.cursor_sql == "array[id::text]"


def test_the_first_page_adds_no_condition() -> None:
    first = NEWEST_FIRST.seek(Page(limit=5, cursor=None))
    assert (first.condition, first.params(org=1)) == ("", {"org": 1, "limit": 6})
    later = NEWEST_FIRST.seek(Page(limit=5, cursor=decode_cursor(NEWEST_FIRST.cursor({"created_at": AT,
                                                                                       "id": ID}))))
    assert later.condition == "\n  and (created_at, id) < (%(after_created_at)s, %(after_id)s)"
    assert later.params(org=1) == {"org": 1, "after_created_at": AT, "after_id": ID, "limit": 6}


def test_the_answer_says_whether_a_page_follows() -> None:
    rows = [{"id": n} for n in (9, 8, 7)]
    seek = ENTRY_KEYSET.seek(Page(limit=2, cursor=None))
    assert seek.answer(rows) == {"items": rows[:2], "next_cursor": encode_cursor(["8"])}
    assert seek.answer(rows[:2]) == {"items": rows[:2], "next_cursor": None}
    assert seek.answer([]) == {"items": [], "next_cursor": None}


def test_the_json_answer_joins_what_postgresql_rendered() -> None:
    seek = ENTRY_KEYSET.seek(Page(limit=2, cursor=None))
    answer = seek.json_answer([('{"id":9}', ["9"]), ('{"id":8}', ["8"]), ('{"id":7}', ["7"])])
    assert json.loads(answer.body) == {"items": [{"id": 9}, {"id": 8}], "next_cursor": encode_cursor(["8"])}
    assert json.loads(seek.json_answer([]).body) == {"items": [], "next_cursor": None}


def test_a_key_part_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError):
        Keyset(("name", str))
    with pytest.raises(TypeError):
        Keyset()


# Every paginated route


TIED_AT = "2020-02-02T02:02:02.020202+00:00"
ROWS = 5


@dataclass(frozen=True)
class Listing:
    path: str  # `{org}` is the organization's id
    keyset: Keyset
    make: Callable[..., None]  # (client, people, make_user, make_org, add_member) adds ROWS rows or more
    table: str | None  # whose created_at is set to one instant (None: the key has no time)
    tied: str = "organization_id = %(org)s"  # which of its rows, in each organization
    in_organization: bool = True  # sends X-Organization-Id


def post_each(path: str, body: Callable[[int], dict]) -> Callable[..., None]:
    def make(client, people, *_) -> None:
        for n in range(ROWS):
            r = client.post(path.format(org=people.org_id), json=body(n),
                            headers=people.admin.headers(people.org_id))
            assert r.status_code == 201, r.text
    return make


def make_agents(client, people, *_) -> None:
    for kind in ("worker", "coordinator"):
        post_each("/api/agents", lambda n, kind=kind: {"slug": f"{kind}-{n}", "name": f"A{n}", "kind": kind})(
            client, people)


def make_organizations(client, people, make_user, make_org, add_member) -> None:
    for _ in range(ROWS - 1):
        make_org(people.admin)


def make_members(client, people, make_user, make_org, add_member) -> None:
    for _ in range(ROWS - 3):
        add_member(people.org_id, make_user(), "Viewer")


LISTINGS = [
    Listing("/api/tasks", TASK_KEYSET, post_each("/api/tasks", lambda n: {"title": f"T{n}"}), "tasks"),
    Listing("/api/agents", AGENT_KEYSET, make_agents, "agents"),
    Listing("/api/status/workers", AGENT_KEYSET, make_agents, "agents"),
    Listing("/api/status/coordinators", AGENT_KEYSET, make_agents, "agents"),
    Listing("/api/organizations/{org}/teams", TEAM_KEYSET,
            post_each("/api/organizations/{org}/teams", lambda n: {"name": f"Team {n}"}), "teams"),
    Listing("/api/roles", ROLE_KEYSET, post_each("/api/roles", lambda n: {"name": f"Role {n}"}), "roles",
            tied="organization_id = %(org)s and not is_builtin"),  # the built-in ones are read-only
    Listing("/api/api-keys", API_KEY_KEYSET, post_each("/api/api-keys", lambda n: {"name": f"K{n}"}),
            "api_keys"),
    Listing("/api/organizations/{org}/invitations", INVITATION_KEYSET,
            post_each("/api/organizations/{org}/invitations",
                      lambda n: {"email": f"invited{n}@example.com", "role": "Viewer"}), "invitations"),
    Listing("/api/organizations/{org}/members", MEMBER_KEYSET, make_members, "memberships"),
    Listing("/api/organizations", ORGANIZATION_KEYSET, make_organizations, "organizations",
            tied="id = %(org)s", in_organization=False),
    Listing("/api/audit-log", ENTRY_KEYSET,
            post_each("/api/organizations/{org}/teams", lambda n: {"name": f"Team {n}"}), None),
]


def test_every_paginated_route_is_listed() -> None:
    app = FastAPI()
    for router in ROUTERS:
        app.include_router(router)
    paged = {path for path, item in app.openapi()["paths"].items()
             if any(p["name"] == "cursor" for p in item.get("get", {}).get("parameters", []))}
    assert paged == {listing.path.replace("{org}", "{id}") for listing in LISTINGS}


def tie(admin_db, listing: Listing, organizations: list[str]) -> None:
    """Give the listing's rows one `created_at` (RLS filters the owner too: organization by organization)."""
    for organization in organizations:
        as_tenant(admin_db, organization)
        admin_db.execute(f"update {listing.table} set created_at = %(at)s where {listing.tied}",  # noqa: S608
                         {"at": TIED_AT, "org": organization})


def key_of(listing: Listing, item: dict) -> tuple:
    return tuple(READ[part.type](str(item[part.field])) for part in listing.keyset.parts)


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.path)
def test_pages_walk_every_row_once_in_key_order_with_ties(client, people, make_user, make_org, add_member,
                                                           admin_db, listing: Listing) -> None:
    listing.make(client, people, make_user, make_org, add_member)
    path = listing.path.format(org=people.org_id)
    headers = people.admin.headers(people.org_id if listing.in_organization else None)
    if listing.table:
        mine = client.get("/api/organizations", params={"limit": 200}, headers=people.admin.headers()).json()
        tie(admin_db, listing, [organization["id"] for organization in mine["items"]])
    everything = client.get(path, params={"limit": 200}, headers=headers).json()
    assert everything["next_cursor"] is None and len(everything["items"]) >= ROWS
    keys = [key_of(listing, item) for item in everything["items"]]
    assert keys == sorted(set(keys), reverse=listing.keyset.descending)  # unique, in key order
    if listing.table:
        assert sum(key[0] == datetime.fromisoformat(TIED_AT) for key in keys) >= ROWS
    for limit in (1, 2, 3):
        assert walk(client, path, headers, limit) == everything["items"], limit


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.path)
def test_a_malformed_cursor_is_invalid_cursor_on_every_route(client, people, listing: Listing) -> None:
    path = listing.path.format(org=people.org_id)
    headers = people.admin.headers(people.org_id if listing.in_organization else None)
    for what, cursor in malformed_cursors(listing.keyset).items():
        answer = client.get(path, params={"cursor": cursor}, headers=headers)
        body = assert_error(answer, 400, "invalid_cursor")
        assert body["error"]["message"] == "The cursor is not one this API gave out.", what
