"""Dirty legacy databases of any size, with every kind of dirt the legacy README lists.

Seeded: the same arguments give a byte-identical file. Run it as
`python -m legacy.testing.generator OUT.sqlite --tasks N [--seed S]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from legacy.source import EXPECTED_DDL

# bcrypt of "legacy-password" (cost 4 keeps tests fast); the $2a$ twin verifies the same.
PASSWORD = "legacy-password"  # noqa: S105 - a test fixture's known password
BCRYPT_2B = "$2b$04$J3VX9sb.3uSZZQgWYCWbtOQyHua55cFzhHWDMyrZwfgeh3F1/qtLi"
BCRYPT_2A = BCRYPT_2B.replace("$2b$", "$2a$", 1)
BOT_KEY = "tg-bot-0123456789abcdef0123456789abcdef"
BOT_EMAIL = "bot@legacy.example"
AGENTS = ("coordinator", "codegen", "review", "Deploy Bot", "ops_1", "-weird-", "ghost")
TASK_STATUSES = ("pending", "running", "done", "failed", "cancelled", "completed", "DONE",
                 "error", "canceled", "in_progress", "In Progress", "queued", "success",
                 "wat", None)
AGENT_STATUSES = ("idle", "running", "stopped", "error", "IDLE", "Busy", "offline", "crashed", "??")
ROLES = ("admin", "Admin", "owner", "member", "viewer", None, "superhero", "member", "member")
BOOLEANS = (1, 0, "true", "false", "yes", "no", None, "1", "maybe")
EVENTS = ("created", "assigned", "started", "progress", "completed", "failed", "cancelled")
BASE_EPOCH = 1_600_000_000


@dataclass(frozen=True)
class Generated:
    """What a test needs to know about a generated file."""

    path: Path
    users: int
    tasks: int
    bot_key: str = BOT_KEY
    bot_email: str = BOT_EMAIL
    password: str = PASSWORD


class _Dirt:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)  # noqa: S311 - seeded test data, not secrets

    def timestamp(self, offset: int = 0, clean: bool = False) -> object:
        moment = BASE_EPOCH + self.r.randrange(0, 90_000_000) + offset
        form = self.r.randrange(10) if not clean else self.r.randrange(5)
        when = datetime.fromtimestamp(moment, UTC)
        tokyo = when.astimezone(timezone(timedelta(hours=9))).isoformat()
        return (when.strftime("%Y-%m-%dT%H:%M:%SZ"), tokyo,
                when.strftime("%Y-%m-%dT%H:%M:%S"), when.strftime("%Y-%m-%d %H:%M:%S"),
                moment, str(moment), str(moment), "yesterday", None, "2021-13-45 99:99:99")[form]

    def text(self, base: str) -> str:
        roll = self.r.random()
        if roll < 0.03:
            return base + "\x00 with NUL"
        if roll < 0.06:
            return base + " \x07bell\x1b[0m"
        if roll < 0.10:
            return base + " 🚀 日本語 émoji"
        return base

    def json_or_not(self, kind: str) -> object:
        roll = self.r.random()
        if roll < 0.15:
            return None
        if roll < 0.25:
            return "plain text, not JSON {"
        if roll < 0.28:
            return '{"note": "nul \\u0000 inside"}'
        if roll < 0.30:
            return "NaN"
        return json.dumps({kind: self.r.randrange(1000), "ok": self.r.random() < 0.5})


def _users(d: _Dirt, count: int) -> Iterator[tuple]:
    yield (1, BOT_EMAIL, "Telegram bot", None, 900_000_000, "admin", 1, "2020-01-01 00:00:00")
    for i in range(2, count + 1):
        roll = d.r.random()
        if i in (4, 5):  # every file, however small, has the README's case and space twins
            email = ("User2@Example.ORG", " user2@example.org ")[i - 4]
        elif roll < 0.05 and i > 3:
            other = d.r.randrange(2, i)
            email = d.r.choice((f"  User{other}@Example.ORG ", f"USER{other}@example.org",
                                f"user{other}@example.org\t"))
        elif roll < 0.07:
            email = d.r.choice(("ann", "", None, "not an email"))
        else:
            email = f"user{i}@example.org"
        password = d.r.choice((BCRYPT_2B, BCRYPT_2A, None, BCRYPT_2B, "md5:5f4dcc3b"))
        telegram = d.r.choice((None, 100_000 + i, str(100_000 + i), None))
        yield (i, email, d.text(f"User {i}"), password, telegram, d.r.choice(ROLES),
               d.r.choice(BOOLEANS), d.timestamp())


def _tasks(d: _Dirt, count: int, users: int) -> Iterator[tuple]:
    for i in range(1, count + 1):
        title = d.text(f"Task {i}")
        roll = d.r.random()
        if roll < 0.01:
            title = "very long " * 150
        elif roll < 0.015:
            title = " \x01 "
        created = d.timestamp()
        completed = d.r.choice((None, created, "2001-01-01T00:00:00Z", d.timestamp(offset=100, clean=True)))
        yield (i, title, d.r.choice((None, d.text("do it"))), d.r.choice(TASK_STATUSES),
               d.r.choice((0, 1, 5, "3", "high", None)), d.r.choice(AGENTS + (None,)),
               d.r.choice((None, d.r.randrange(1, users + 20))), d.r.choice((None, 12, "#34", "x"))
               , d.json_or_not("result"), created, d.timestamp(), completed)


def _events(d: _Dirt, count: int, tasks: int) -> Iterator[tuple]:
    for i in range(1, count + 1):
        task = d.r.randrange(1, tasks + 1) if d.r.random() > 0.02 else tasks + d.r.randrange(1, 1000)
        yield (i, task, d.r.choice(EVENTS + ("",)), d.json_or_not("payload"), d.timestamp())


def _small_tables(conn: sqlite3.Connection, d: _Dirt, users: int) -> None:
    keys = [(1, 1, "telegram bot", BOT_KEY, "2020-01-01T00:00:00Z", None, 0)]
    for i in range(2, max(5, users // 10) + 2):
        keys.append((i, d.r.randrange(1, users + 20), d.r.choice(("ci", None, "laptop")),
                     d.r.choice((f"key-{i}-{d.r.getrandbits(64):x}", None)), d.timestamp(),
                     d.timestamp(), d.r.choice((0, 1, "true", None, "no"))))
    conn.executemany("insert into api_keys values (?,?,?,?,?,?,?)", keys)
    conn.executemany("insert into sessions values (?,?,?,?,?)", [
        (f"s{i}", d.r.randrange(1, users + 20), d.r.choice((f"tok-{i}-{d.r.getrandbits(64):x}", None)),
         d.r.choice(("2099-01-01T00:00:00Z", "2001-01-01 00:00:00", "4102444800", "garbage")),
         d.timestamp()) for i in range(1, users // 2 + 2)])
    conn.executemany("insert into agents values (?,?,?,?,?,?)", [
        (a, d.r.choice((a.title(), None, "")), d.r.choice(("coordinator", "worker", "Worker", "robot")),
         d.r.choice(AGENT_STATUSES), d.json_or_not("config"), d.timestamp())
        for a in AGENTS if a != "ghost"])
    conn.executemany("insert into telegram_chats values (?,?,?,?)", [
        (-1000 - i, d.r.randrange(1, users + 20), d.text(f"chat {i}"), d.timestamp())
        for i in range(max(2, users // 5))])


def generate(path: Path, *, tasks: int = 1000, users: int | None = None,
             events_per_task: int = 2, seed: int = 1) -> Generated:
    """Write a dirty legacy database to `path` (replaced if it exists)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    users = users or max(20, tasks // 20)
    d = _Dirt(seed)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(EXPECTED_DDL.read_text())
        conn.executemany("insert into users values (?,?,?,?,?,?,?,?)", _users(d, users))
        conn.executemany("insert into tasks values (?,?,?,?,?,?,?,?,?,?,?,?)", _tasks(d, tasks, users))
        conn.executemany("insert into task_events values (?,?,?,?,?)",
                         _events(d, tasks * events_per_task, tasks))
        _small_tables(conn, d, users)
        # Users and tasks deleted without their dependents: the orphans of the legacy app.
        conn.execute("delete from users where id % 31 = 7")
        conn.execute("delete from tasks where id % 97 = 5")
        conn.commit()
    finally:
        conn.close()
    return Generated(path, users, tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    made = generate(args.out, tasks=args.tasks, users=args.users, seed=args.seed)
    print(f"{made.path}: {made.users} users, {made.tasks} tasks")


if __name__ == "__main__":
    main()
