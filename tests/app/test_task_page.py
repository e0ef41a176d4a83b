"""app/task_page.py: the round trip through libpq leaves every connection as psycopg expects it.

tests/app/test_fast_tasks.py checks the answers; these check the connection: prepared once,
idle after a failed statement, dropped by the pool when a request is cancelled mid-query.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.availability import DatabaseAvailability
from app.pagination import Page
from app.resources.tasks import TASK_KEYSET
from app.task_page import TENANT, page_statement, read_page
from tests.db.seed import seed_organization

FIRST_TWO = TASK_KEYSET.seek(Page(limit=2, cursor=None))


def _seeded(admin_db) -> tuple[uuid.UUID, uuid.UUID]:
    ids = seed_organization(admin_db, "paged")
    return ids["org"], ids["user"]


def _pool(database) -> AsyncConnectionPool:
    return AsyncConnectionPool(database.app_url, min_size=1, max_size=1, open=False,
                               kwargs={"row_factory": dict_row, "options": "-c timezone=UTC"})


def test_a_member_reads_the_page_with_statements_prepared_once(database, admin_db):
    org, user = _seeded(admin_db)

    async def twice() -> tuple[list, list]:
        async with _pool(database) as pool, pool.connection() as conn:
            found = [await read_page(conn, org, user, FIRST_TWO, None, None) for _ in range(2)]
            names = await (await conn.execute("select name from pg_prepared_statements")).fetchall()
            return found, sorted(row["name"] for row in names)

    found, names = asyncio.run(twice())
    assert found[0] == found[1] and b'"title":"write tests"' in found[0].page
    assert "task.view" in found[0].permissions and found[0].session == 0
    assert names == sorted([TENANT.name, page_statement(False, False, False).name])


def test_a_failed_statement_leaves_the_connection_idle(database, admin_db):
    org, user = _seeded(admin_db)

    async def timed_out() -> tuple[object, TransactionStatus, object]:
        async with _pool(database) as pool, pool.connection() as conn:
            await conn.set_autocommit(True)
            await conn.execute("set statement_timeout = 1")
            await conn.set_autocommit(False)
            with psycopg.connect(database.admin_url) as locker:
                locker.execute("lock table tasks in access exclusive mode")
                failed = await read_page(conn, org, user, FIRST_TWO, None, None)
            await conn.set_autocommit(True)
            await conn.execute("set statement_timeout = 0")
            await conn.set_autocommit(False)
            status = conn.info.transaction_status
            return failed, status, await read_page(conn, org, user, FIRST_TWO, None, None)

    failed, status, again = asyncio.run(timed_out())
    assert failed is None and status == TransactionStatus.IDLE and again is not None and again.page


def test_a_request_cancelled_mid_query_gives_its_connection_up(database, admin_db):
    org, user = _seeded(admin_db)

    async def cancelled() -> tuple[bool, object]:
        async with _pool(database) as pool:
            availability = DatabaseAvailability.of(pool)  # how the fast path takes and gives back
            with psycopg.connect(database.admin_url) as locker:
                locker.execute("lock table tasks in access exclusive mode")
                async with availability.connection(pool) as conn:
                    reading = asyncio.create_task(read_page(conn, org, user, FIRST_TWO, None, None))
                    await asyncio.sleep(0.3)  # the page waits for the lock
                    reading.cancel()
                    await asyncio.gather(reading, return_exceptions=True)
                    first = conn
            async with availability.connection(pool) as conn:  # the pool closed the busy one
                found = await read_page(conn, org, user, FIRST_TWO, None, None)
                return conn is not first and first.closed, found

    replaced, found = asyncio.run(cancelled())
    assert replaced and found is not None and found.page
