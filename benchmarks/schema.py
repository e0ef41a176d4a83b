"""Benchmark (not a test): embedded PostgreSQL start-up and a full migrate up and down.

    python -m benchmarks.schema [--rounds 3]

Prints the first start (initdb + start), a restart, and the best of N rounds of applying every
migration to an empty database (schema check included) and rolling all of them back.
"""

from __future__ import annotations

import argparse
import time

import psycopg

from app.settings import REPOSITORY_ROOT
from benchmarks.scratch import scratch
from db import migrate

MIGRATIONS = REPOSITORY_ROOT / "db" / "migrations"


def timed(step) -> float:  # noqa: ANN001 - any callable
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="migrate up/down rounds (best is shown)")
    args = parser.parse_args()
    with scratch("miyabi-bench-schema-") as world:
        server = world.server
        first = timed(server.start)
        server.stop()
        restart = timed(server.start)
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("create database bench")
        url = server.url("bench")
        ups, downs = [], []
        for _ in range(args.rounds):
            ups.append(timed(lambda: migrate.apply(url, MIGRATIONS)))
            downs.append(timed(lambda: migrate.rollback(url, MIGRATIONS, to="base")))
    count = len(migrate.load_migrations(MIGRATIONS))
    print(f"embedded PostgreSQL: first start (initdb + start) {first:.2f} s, restart {restart:.2f} s")
    print(f"{count} migrations on an empty database: up {min(ups) * 1000:.0f} ms (schema check included), "
          f"all the way down {min(downs) * 1000:.0f} ms (best of {args.rounds})")


if __name__ == "__main__":
    main()
