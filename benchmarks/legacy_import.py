"""Benchmark (not a test): the legacy import end to end (with verification) next to pgloader
loading the same file raw and a raw COPY of the same rows (the ceiling).

    python -m benchmarks.legacy_import --tasks 1000000

Each contender runs in its own process on its own fresh database of one scratch embedded
PostgreSQL; rows/s counts the rows of the legacy file it loaded (pgloader rejects rows it
cannot cast, and when it stalls it is killed and timed up to its last progress), peak memory
is the process's maxrss. A fourth figure, the floor, COPYs the imported tasks and task_events
into the real tables of a fresh database: what writing into this schema costs by itself.

The import runs as the owner of production's shape (no superuser, no BYPASSRLS, as RDS's master
user): forced row-level security applies to it and it may not set session_replication_role, so
it keeps the per-row foreign-key checks. `--superuser` runs it as the embedded superuser instead
(the set-wise path), for comparison. The floor is always COPYed as the superuser: the owner may
not COPY into a table under row-level security at all.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.settings import REPOSITORY_ROOT
from db import migrate
from db.embedded import EmbeddedPostgres
from legacy.plan import SOURCE_TABLES
from legacy.source import EXPECTED_DDL, shapes_of
from legacy.testing.generator import generate


@dataclass
class Figure:
    name: str
    seconds: float
    peak_mb: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _measure(name: str, argv: list[str], rows: int, env: dict[str, str] | None = None,
             progress: Callable[[], int] | None = None, stall: float = 30.0,
             output: Path | None = None) -> Figure:
    """Run `argv` to its end and take its time and peak RSS (its output into `output`, if
    given). With `progress` (rows written so far), a run that writes nothing for `stall` s is
    killed and timed up to its last progress."""
    started = time.monotonic()
    with output.open("w") if output else nullcontext(subprocess.DEVNULL) as out:
        process = subprocess.Popen(argv, cwd=REPOSITORY_ROOT, env={**os.environ, **(env or {})},
                                   stdout=out, stderr=subprocess.DEVNULL)
    last_seen, last_moved, asked, stalled = -1, started, started, False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG if progress else 0)
        if pid:
            break
        time.sleep(0.05)
        if time.monotonic() - asked < 1.0:
            continue
        asked, seen = time.monotonic(), progress()
        if seen != last_seen:
            last_seen, last_moved = seen, asked
        elif asked - last_moved > stall:
            process.kill()
            stalled = True
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if stalled:
        return Figure(f"{name} (stalled after {last_moved - started:.0f}s, killed)", last_moved - started,
                      usage.ru_maxrss / 1024, rows)
    if code != 0:
        raise SystemExit(f"{name} failed with exit code {code}")
    return Figure(name, seconds, usage.ru_maxrss / 1024, rows)


def raw_copy(url: str, path: Path) -> None:
    """The ceiling: every legacy column as text, every row COPYed as it is, no normalisation."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    source.text_factory = lambda raw: raw.decode("utf-8", errors="replace").replace("\x00", "")
    shapes = shapes_of(EXPECTED_DDL.read_text())
    with psycopg.connect(url) as conn:
        for table, columns in shapes.items():
            names = [sql.Identifier(c) for c in columns]
            conn.execute(sql.SQL("create table {} ({})").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.SQL("{} text").format(n) for n in names)))
            cursor = source.execute(f'select * from "{table}"')
            with conn.cursor().copy(sql.SQL("copy {} from stdin").format(sql.Identifier(table))) as copy:
                while chunk := cursor.fetchmany(5000):
                    for row in chunk:
                        copy.write_row(row)


def schema_copy(source_url: str, target_url: str) -> None:
    """The floor of any importer into this schema: tasks and task_events exactly as the import
    wrote them (in the order it wrote them), COPYed into the real tables of a fresh database,
    with their indexes and the per-row triggers off. Nothing to read, parse or normalise."""
    with psycopg.connect(source_url) as source, psycopg.connect(target_url) as target:
        target.execute("set session_replication_role = replica")
        for table in ("tasks", "task_events"):
            with source.cursor().copy(f"copy {table} to stdout (format binary)") as out, \
                    target.cursor().copy(f"copy {table} from stdin (format binary)") as into:
                for data in out:
                    into.write(data)


def _split(said: str) -> str:
    """The import's own time and verification's after it, as the importer prints them (the rest
    of the figure is starting Python and fingerprinting the file)."""
    found = re.search(r"imported in ([0-9.]+)s\s+verified in ([0-9.]+)s", said)
    return f"- import {found.group(1)}s, then verify {found.group(2)}s" if found else ""


def _fresh(server: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return server.url(name)


def _loaded(url: str) -> int:
    """Rows a raw load committed into the legacy-named tables (pgloader may skip rows it rejects)."""
    with psycopg.connect(url, autocommit=True) as conn:  # each count alone: no lock held across
        found = {t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_name = any(%s)",
            (list(SOURCE_TABLES),))}
        return sum(_count(conn, table) for table in found)


def _count(conn: psycopg.Connection, table: str) -> int:
    try:
        query = sql.SQL("select count(*) from {}").format(sql.Identifier(table))
        return int(conn.execute(query).fetchone()[0])
    except psycopg.errors.UndefinedTable:  # dropped by the loader since it was listed
        return 0


def _imported(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("select (select count(*) from tasks) + (select count(*) from task_events)")
                   .fetchone()[0])


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return sum(conn.execute(f"select count(*) from {t}").fetchone()[0] for t in SOURCE_TABLES)


def run(tasks: int, seed: int, workdir: Path, superuser: bool = False) -> list[Figure]:
    started = time.monotonic()
    legacy = generate(workdir / "legacy.sqlite", tasks=tasks, seed=seed).path
    rows = _rows(legacy)
    print(f"generated {legacy} ({legacy.stat().st_size / 2**20:.0f} MB, {rows:,} rows) "
          f"in {time.monotonic() - started:.0f}s", flush=True)
    server = EmbeddedPostgres(workdir / "postgres", workdir / "secrets")
    server.start()
    try:
        target = _fresh(server, "miyabi")
        migrate.apply(target, REPOSITORY_ROOT / "db" / "migrations")
        python = sys.executable
        env = {"PYTHONPATH": str(REPOSITORY_ROOT)}
        importer = server.superuser_url("miyabi") if superuser else target
        said = workdir / "import.out"
        figures = [_measure(f"miyabi import + verify ({'superuser' if superuser else 'owner'})", [
            python, "-m", "legacy", "import", importer, str(legacy), "--org-slug", "bench",
            "--verify"], rows, env, output=said)]
        print(figures[-1], _split(said.read_text()), flush=True)
        if shutil.which("pgloader"):
            scratch = _fresh(server, "pgloader")
            # pgloader stalls on some dirty files (rows it cannot cast): it is timed up to its
            # last progress, which is the figure most in its favour.
            figure = _measure("pgloader (raw)", ["pgloader", "--quiet", str(legacy), scratch], rows,
                              progress=lambda: _loaded(scratch))
            figure.rows = _loaded(scratch)
            figures.append(figure)
            print(figure, f"- it loaded {figure.rows:,} of {rows:,} rows", flush=True)
        else:
            print("pgloader is not installed (apt-get install pgloader); skipped")
        floor = _fresh(server, "floor")
        migrate.apply(floor, REPOSITORY_ROOT / "db" / "migrations")
        everything = server.superuser_url("miyabi")
        figures.append(_measure("floor: COPY into the schema's tables", [
            python, "-c", "import sys; from benchmarks.legacy_import import schema_copy; "
            "schema_copy(sys.argv[1], sys.argv[2])", everything, server.superuser_url("floor")],
            _imported(everything), env))
        print(figures[-1], flush=True)
        figures.append(_measure("raw COPY ceiling", [
            python, "-c", "import sys; from benchmarks.legacy_import import raw_copy; "
            "raw_copy(sys.argv[1], sys.argv[2])", _fresh(server, "ceiling"), str(legacy)], rows, env))
        print(figures[-1], f"- it loaded {_loaded(server.url('ceiling')):,} rows", flush=True)
    finally:
        server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks in the generated file")
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: temp)")
    parser.add_argument("--superuser", action="store_true",
                        help="import as the superuser (set-wise reference checks), not the owner")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="legacy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        figures = run(args.tasks, args.seed, workdir, args.superuser)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'contender':<48}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for f in figures:
        print(f"{f.name:<48}{f.seconds:>10.1f}{f.rows_per_second:>12,.0f}{f.peak_mb:>10.0f}")
    ours = figures[0]
    named = {prefix: f for f in figures[1:] for prefix in ("pgloader", "raw COPY ceiling", "floor")
             if f.name.startswith(prefix)}
    for other, target in (("pgloader", 2.0), ("raw COPY ceiling", 0.5)):
        if other in named:
            print(f"miyabi / {named[other].name}: {ours.rows_per_second / named[other].rows_per_second:.2f} "
                  f"(target >= {target})")
    if "floor" in named:
        print(f"floor seconds / miyabi seconds: {named['floor'].seconds / ours.seconds:.2f} (target >= 0.5)")
    if "floor" in named and "raw COPY ceiling" in named:
        print(f"floor / raw COPY ceiling: "
              f"{named['floor'].rows_per_second / named['raw COPY ceiling'].rows_per_second:.2f} "
              "(the most any importer that writes into this schema could reach)")


if __name__ == "__main__":
    main()
