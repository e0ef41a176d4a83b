"""Per-table rich progress bars with rows per second."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
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
