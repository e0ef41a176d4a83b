"""`legacy.*` tasks: import the old SQLite database into one organization, verify, report, undo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from invoke import Collection, Context, task
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as BarTask
from rich.table import Table
from rich.text import Text

from db import local
from legacy.importer import ImportResult
from legacy.report import reasons, write_document
from legacy.run import import_and_verify
from legacy.undo import undo as undo_import
from legacy.verify import load_record, verify_or_raise
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Backups
from ops.tasks.common import console, run, settings

SESSIONS_HELP = ("what to do with unexpired legacy sessions: 'keep' (they become refresh tokens "
                 "and work until they expire) or 'invalidate' (everyone logs in again)")


# The display (rich) lives here, with the operator: the legacy package has no rich in it.
class RowsPerSecond(ProgressColumn):
    def render(self, task: BarTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="cyan")


class TableBars:
    """One bar per legacy table; used as a context manager around the import."""

    def __init__(self, console: Console | None = None) -> None:
        self._bars = Progress(TextColumn("{task.description:<15}"), BarColumn(), MofNCompleteColumn(),
                              RowsPerSecond(), TimeElapsedColumn(), console=console)
        self._ids: dict[str, int] = {}

    def __enter__(self) -> TableBars:
        self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._bars.stop()

    def start(self, table: str, total: int) -> None:
        self._ids[table] = self._bars.add_task(table, total=total)

    def advance(self, table: str, rows: int) -> None:
        self._bars.advance(self._ids[table], rows)


def summary_table(document: dict[str, Any]) -> Table:
    """The per-table accounting of a report document as a rich table."""
    table = Table("table", "read", "imported", "merged", "quarantined", "values fixed",
                  title=f"legacy import into {document.get('organization', {}).get('slug', '?')}")
    fixes = document.get("fixes", {})
    for name, counts in document["tables"].items():
        fixed = sum(entry["count"] for entry in fixes.get(name, {}).values())
        table.add_row(name, *(f"{counts[k]:,}" for k in ("read", "imported", "merged", "quarantined")),
                      f"{fixed:,}")
    return table


def _default_report(slug: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings().home / "reports" / f"legacy-{slug}-{stamp}.json"


def _print_summary(document: dict) -> None:
    out = Console()
    out.print(summary_table(document))
    for (table, reason), count in sorted(reasons(document).items()):
        out.print(f"  {table}: {count:,} {reason}")
    out.print(f"sessions: {document['sessions']}")
    for moved in document.get("displaced", []):
        out.print(f"unverified account {moved['account']} held {moved['email']}: moved to "
                  f"{moved['moved_to']}; legacy user {moved['legacy_id']} has the address now",
                  soft_wrap=True, highlight=False)


def run_import(c: Context, from_sqlite: str, org_name: str | None, org_slug: str | None,
               report: str | None, sessions: str = "keep", verify: bool = True) -> None:
    """Import `from_sqlite` into a new organization, verify it, print and write the report."""
    config = settings()
    url = run(lambda: local.admin_url(config))
    results: list[ImportResult] = []

    def imported(result: ImportResult) -> None:
        results.append(result)
        if result.already_imported:
            console.print(f"[yellow]this file is already imported as {org_slug}; nothing changed[/]")
        else:
            console.print(f"imported in {result.seconds:.1f}s")
    with TableBars(console) as bars:
        run(lambda: import_and_verify(url, Path(from_sqlite), org_name or "", org_slug or "",
                                      migrations_dir=config.migrations_dir, sessions=sessions,
                                      verify=verify, progress=bars, imported=imported))
    if verify:
        console.print("[green]verified[/]: source and target checksums match for every table")
    [result] = results
    _print_summary(result.document)
    path = write_document(result.document, Path(report) if report else _default_report(org_slug))
    console.print(f"report: {path}", soft_wrap=True, highlight=False)


@task(name="import", help={
    "from_sqlite": "the legacy SQLite file",
    "org_name": "the name of the organization to create",
    "org_slug": "its slug (lower-case letters, digits, '-')",
    "report": "where to write the JSON report (default $MIYABI_HOME/reports/legacy-<slug>-<time>.json)",
    "sessions": SESSIONS_HELP,
    "skip_verify": "do not verify after importing (run legacy.verify later)",
})
def import_(c: Context, from_sqlite: str, org_name: str, org_slug: str, report: str | None = None,
            sessions: str = "keep", skip_verify: bool = False) -> None:
    """Import a legacy SQLite file into a new organization (same as migrate --from-sqlite)."""
    run_import(c, from_sqlite, org_name, org_slug, report, sessions=sessions, verify=not skip_verify)


@task(help={"from_sqlite": "the legacy SQLite file that was imported",
            "org_slug": "the organization it was imported into"})
def verify(c: Context, from_sqlite: str, org_slug: str) -> None:
    """Recompute source and target checksums per table; fail on any unexplained difference."""
    url = run(lambda: local.admin_url(settings()))
    result = run(lambda: verify_or_raise(url, Path(from_sqlite), org_slug))
    for check in result.checks:
        console.print(f"[green]✓[/] {check.target.rows:>10,}  {check.table:<15} {check.target.hex}")
    console.print("[green]verified[/]")


@task(help={"org_slug": "the organization of the import",
            "json": "print the whole JSON report instead of the summary"})
def report(c: Context, org_slug: str, json: bool = False) -> None:
    """Show the report recorded by an import."""
    url = run(lambda: local.admin_url(settings()))

    def load() -> dict:
        with local.connect(url) as conn:
            return load_record(conn, org_slug)[1]
    document = run(load)
    if json:
        import json as json_module

        print(json_module.dumps(document, indent=1, ensure_ascii=False))
        return
    _print_summary(document)


def backup_taker(url: str) -> Callable[[str], str]:
    """The pipeline's own backups (`invoke status` lists them, `invoke restore` restores them)."""
    config = settings()
    store = Backups(config.home / "backups", config.backup_retention)
    return lambda reason: store.create(url, schema.level(url), None, reason).id


@task(help={"org_slug": "the organization whose import to remove"})
def undo(c: Context, org_slug: str) -> None:
    """Back the database up (the pipeline's backup), then remove the import: organization, rows,
    created users; displaced accounts get their e-mail back."""
    url = run(lambda: local.admin_url(settings()))
    result = run(lambda: undo_import(url, org_slug, backup_taker(url)))
    console.print(f"backup {result.backup} (bring it back with `invoke restore --backup-id "
                  f"{result.backup}`)", soft_wrap=True, highlight=False)
    console.print(f"removed organization {org_slug} and {result.users_removed:,} user(s) it created")
    if result.accounts_restored:
        console.print(f"{result.accounts_restored:,} displaced account(s) got their e-mail back")
    if not result.sequence_restored:
        console.print("[yellow]task_events ids were drawn since the import; the sequence stays[/]")


TOP_LEVEL: tuple = ()
ns = Collection("legacy")
for _task in (import_, verify, report, undo):
    ns.add_task(_task)
