"""A limit over a sliding window on two keys at once, counted in the database so it holds
across API instances (Lambda): the login limit (per e-mail and per client) and the e-mail limit
(per address and per caller) are each one `TwoKeyWindow`.

`reserve` takes both keys' advisory locks (the first key's always first, so two reservations
never wait on each other), then in a separate statement, whose snapshot sees what the locks'
previous holder committed, counts each key's rows in the window and records one only when both
are under their limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql


@dataclass(frozen=True)
class TwoKeyWindow:
    """Rows of `table` keyed by `first` (compared case-insensitively) and `second`.

    `lock_space` names the two-key advisory lock spaces, apart from every other limit's;
    `extra` columns are written from parameters of the same names; with `prune`, a reservation
    first deletes its keys' rows that left the window.
    """

    table: str
    first: str
    second: str
    lock_space: tuple[int, int]
    extra: tuple[str, ...] = ()
    prune: bool = False

    async def reserve(self, conn: AsyncConnection, first: str, second: str, *, window: int,
                      per_first: int, per_second: int, **extra: Any) -> int | None:
        """Record one row: None, or the seconds to wait (nothing recorded) when a key is used up."""
        params = {"first": first, "second": second, "window": window, "per_first": per_first,
                  "per_second": per_second, "first_space": self.lock_space[0],
                  "second_space": self.lock_space[1], **extra}
        await conn.execute(LOCK, params)
        row = await (await conn.execute(self._reserve_sql(), params)).fetchone()
        if row["reserved"]:
            return None
        waits = [row["first_wait"]] if row["by_first"] >= per_first else []
        if row["by_second"] >= per_second:
            waits.append(row["second_wait"])
        return max(1, *waits)

    def _reserve_sql(self) -> sql.Composed:
        columns = [self.first, self.second, *self.extra]
        return RESERVE.format(
            table=sql.Identifier(self.table), first=sql.Identifier(self.first),
            second=sql.Identifier(self.second),
            prune=PRUNE.format(table=sql.Identifier(self.table), first=sql.Identifier(self.first),
                               second=sql.Identifier(self.second)) if self.prune else sql.SQL(""),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(sql.Placeholder(name) for name in ["first", "second", *self.extra]))


LOCK = """
select pg_advisory_xact_lock(%(first_space)s, hashtext(lower(%(first)s))),
       pg_advisory_xact_lock(%(second_space)s, hashtext(%(second)s))
"""

PRUNE = sql.SQL("""expired as (
    delete from {table}
    where at <= now() - make_interval(secs => %(window)s)
      and (lower({first}) = lower(%(first)s) or {second} = %(second)s)
), """)

# For each key: how many rows in the window and when the oldest of them leaves it.
RESERVE = sql.SQL("""
with {prune}recent as (
    select count(*) filter (where lower({first}) = lower(%(first)s)) as by_first,
           count(*) filter (where {second} = %(second)s) as by_second,
           ceil(extract(epoch from min(at) filter (where lower({first}) = lower(%(first)s))
                + make_interval(secs => %(window)s) - now()))::int as first_wait,
           ceil(extract(epoch from min(at) filter (where {second} = %(second)s)
                + make_interval(secs => %(window)s) - now()))::int as second_wait
    from {table}
    where at > now() - make_interval(secs => %(window)s)
      and (lower({first}) = lower(%(first)s) or {second} = %(second)s)
), recorded as (
    insert into {table} ({columns})
    select {values} from recent
    where by_first < %(per_first)s and by_second < %(per_second)s
    returning 1
)
select recent.*, exists(select 1 from recorded) as reserved from recent
""")
