"""Benchmark (not a test): the legacy import end to end (with verification) next to pgloader
loading the same file raw and a raw COPY of the same rows (the ceiling).

    python -m benchmarks.legacy_import --tasks 1000000

Each contender runs in its own process on its own fresh database of one scratch embedded
PostgreSQL; rows/s counts the rows of the legacy file it loaded (pgloader rejects rows it
cannot cast and is killed if it stalls), peak memory is the process's maxrss.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.settings import REPOSITORY_ROOT
from db import migrate
from db.embedded import EmbeddedPostgres
from db.legacy.generator import generate
from db.legacy.plan import SOURCE_TABLES
from db.legacy.source import EXPECTED_DDL, shapes_of


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
             timeout: float | None = None) -> Figure:
    """Run `argv` to its end (or kill it after `timeout` s) and take its time and peak RSS."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=REPOSITORY_ROOT, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, process.kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if timer:
        timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    if code == -signal.SIGKILL and timeout:
        name = f"{name} (killed at {timeout:.0f}s)"
    elif code != 0:
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


def _fresh(server: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return server.url(name)


def _loaded(url: str) -> int:
    """Rows a raw load left in the legacy-named tables (pgloader may skip rows it rejects)."""
    with psycopg.connect(url) as conn:
        found = {t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_name = any(%s)",
            (list(SOURCE_TABLES),))}
        return sum(conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(t))).fetchone()[0]
                   for t in found)


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return sum(conn.execute(f"select count(*) from {t}").fetchone()[0] for t in SOURCE_TABLES)


def run(tasks: int, seed: int, workdir: Path) -> list[Figure]:
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
        figures = [_measure("miyabi import + verify", [
            python, "-m", "db.legacy", "import", target, str(legacy), "--org-slug", "bench",
            "--verify"], rows, env)]
        print(figures[-1], flush=True)
        if shutil.which("pgloader"):
            scratch = _fresh(server, "pgloader")
            # pgloader stalls on some dirty files (rows it cannot cast); give it ample time.
            limit = max(120.0, 3 * figures[0].seconds)
            figure = _measure("pgloader (raw)", ["pgloader", "--quiet", str(legacy), scratch], rows,
                              timeout=limit)
            figure.rows = _loaded(scratch)
            figures.append(figure)
            print(figure, f"- it loaded {figure.rows:,} of {rows:,} rows", flush=True)
        else:
            print("pgloader is not installed (apt-get install pgloader); skipped")
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
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="legacy-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        figures = run(args.tasks, args.seed, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'contender':<34}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for f in figures:
        print(f"{f.name:<34}{f.seconds:>10.1f}{f.rows_per_second:>12,.0f}{f.peak_mb:>10.0f}")
    ours = figures[0]
    for other, target in (("pgloader", 2.0), ("raw COPY ceiling", 0.5)):
        for f in figures[1:]:
            if f.name.startswith(other):
                print(f"miyabi / {f.name}: {ours.rows_per_second / f.rows_per_second:.2f} "
                      f"(target >= {target})")


if __name__ == "__main__":
    main()
