"""`python -m legacy import|verify URL FILE ...`: the importer without invoke, for
subprocess tests and benchmarks (operators use `invoke legacy.*`). A refusal prints its one
sentence and exits with its code (docs/errors.md), as the invoke tasks do."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from db.actionable import exit_on_failure
from db.settings import load_settings
from legacy.importer import ImportResult
from legacy.run import import_and_verify
from legacy.verify import verify_or_raise


class PrintedProgress:
    """One line per table start and per batch, flushed: lets a test kill at a chosen point."""

    def start(self, table: str, total: int) -> None:
        print(f"start {table}", flush=True)

    def advance(self, table: str, rows: int) -> None:
        print(f"advance {table} {rows}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy")
    parser.add_argument("command", choices=("import", "verify"))
    parser.add_argument("url")
    parser.add_argument("file", type=Path)
    parser.add_argument("--org-name", default="Legacy")
    parser.add_argument("--org-slug", required=True)
    parser.add_argument("--sessions", default="keep", choices=("keep", "invalidate"))
    parser.add_argument("--trace", action="store_true", help="print each table and batch")
    parser.add_argument("--verify", action="store_true", help="with import: verify afterwards")
    args = parser.parse_args(argv)
    if args.command == "import":
        imported_at = []

        def imported(result: ImportResult) -> None:
            imported_at.append(time.monotonic())
            print("already imported" if result.already_imported else f"imported in {result.seconds:.2f}s",
                  flush=True)
        import_and_verify(args.url, args.file, args.org_name, args.org_slug,
                          migrations_dir=load_settings({}).migrations_dir, sessions=args.sessions,
                          verify=args.verify, progress=PrintedProgress() if args.trace else None,
                          imported=imported)
        if args.verify:
            print(f"verified in {time.monotonic() - imported_at[0]:.2f}s")
    else:
        verify_or_raise(args.url, args.file, args.org_slug)
        print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_failure(main))
