"""The whole cut-over step in one call: import, then verify. `invoke legacy.import` (and
`migrate --from-sqlite`) and `python -m legacy import --verify` both run it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from legacy.ahead import Ahead
from legacy.copy import Progress
from legacy.helpers import Helpers
from legacy.importer import ImportResult, import_legacy
from legacy.verify import Verification, verify_or_raise


def import_and_verify(url: str, path: Path, org_name: str, org_slug: str, *, migrations_dir: Path,
                      sessions: str = "keep", verify: bool = True, progress: Progress | None = None,
                      imported: Callable[[ImportResult], None] | None = None,
                      now: datetime | None = None) -> Verification | None:
    """Import `path` into a new organization and (with `verify`) verify it, raising
    VerificationFailed on any unexplained difference. Verification's source side of tasks and
    task_events is computed while the import inserts (legacy.ahead), on the same executor.
    `imported` gets the import's result before verification starts; it is not kept after (the
    report of every merged or quarantined row can be large)."""
    with Helpers(url) as helpers:
        ahead = Ahead(helpers) if verify else None
        result = import_legacy(url, Path(path), org_name, org_slug, migrations_dir=migrations_dir,
                               sessions=sessions, progress=progress, now=now, ahead=ahead,
                               helpers=helpers)
        if imported is not None:
            imported(result)
        del result
        if not verify:
            return None
        return verify_or_raise(url, Path(path), org_slug, ahead, helpers)
