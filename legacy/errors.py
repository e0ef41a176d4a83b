"""Failures of the legacy import an operator can act on; each message is one sentence."""

from __future__ import annotations

from pathlib import Path

from db.actionable import UsageError
from db.errors import DatabaseError


class LegacyImportError(DatabaseError):
    """Base of the legacy import failures; nothing was written when one is raised early."""


class NotSqlite(LegacyImportError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is not a SQLite database ({reason}); nothing was written.")
        self.path = path


class LegacySchemaMismatch(LegacyImportError):
    def __init__(self, path: Path, differences: list[str]) -> None:
        super().__init__(f"{path} does not have the legacy schema: {'; '.join(differences)}. "
                         "Nothing was written.")
        self.path = path
        self.differences = differences


class SlugTaken(LegacyImportError):
    def __init__(self, slug: str, reason: str) -> None:
        super().__init__(f"The organization slug {slug!r} cannot be used: {reason}. "
                         "Choose another --org-slug; nothing was written.")
        self.slug = slug


class AlreadyImported(LegacyImportError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"This file was already imported as organization {slug!r}; "
                         "undo that import first (invoke legacy.undo) to import it elsewhere.")
        self.slug = slug


class TargetLevelMismatch(LegacyImportError):
    def __init__(self, current: str, expected: str) -> None:
        super().__init__(f"The target database is at schema level {current}, the importer "
                         f"needs {expected}; run `invoke db.migrate` first. Nothing was written.")


class BadOption(LegacyImportError, UsageError):
    """An option of the command line that cannot work (e.g. an invalid slug or session choice)."""


class NoSuchImport(LegacyImportError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"No legacy import is recorded for organization {slug!r}.")
        self.slug = slug


class VerificationFailed(LegacyImportError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"Verification found {len(problems)} unexplained difference(s): "
                         + "; ".join(problems))
        self.problems = problems


class DanglingReference(LegacyImportError):
    def __init__(self, reference: str, missing: int) -> None:
        super().__init__(f"{missing} imported value(s) of {reference} point at no row; this is a bug "
                         "of the importer (its normalisation links only rows it wrote). The import "
                         "was rolled back and nothing was written.")
        self.reference = reference
