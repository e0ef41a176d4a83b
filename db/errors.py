"""Failures a user can act on, each naming what it concerns."""

from __future__ import annotations

from db.actionable import MiyabiError


class DatabaseError(MiyabiError):
    """Base of the database failures; the message is one sentence for a person."""


class DatabaseUnreachable(DatabaseError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"The database at {url} does not answer ({reason}). Check DATABASE_URL, or unset it "
            "to use the embedded PostgreSQL."
        )
        self.url = url


class EmbeddedServerFailed(DatabaseError):
    def __init__(self, data_dir: object, reason: str) -> None:
        super().__init__(f"The embedded PostgreSQL in {data_dir} could not start: {reason}")
        self.data_dir = data_dir


class MigrationFolderInvalid(DatabaseError):
    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"Migration folder {path}: {reason}")
        self.path = path


class MigrationFailed(DatabaseError):
    def __init__(self, migration: str, reason: str) -> None:
        super().__init__(
            f"Migration {migration} failed and was undone; the schema is as it was before "
            f"this step. Cause: {reason}"
        )
        self.migration = migration


class RollbackTargetInvalid(DatabaseError):
    """A rollback asked for a level that does not exist or is past the first step."""


class SchemaCheckFailed(DatabaseError):
    def __init__(self, problems: list[str]) -> None:
        listing = "; ".join(problems)
        super().__init__(f"The schema check found {len(problems)} problem(s): {listing}")
        self.problems = problems


class DatabaseOwnedBySuperuser(DatabaseError):
    """A local database made by a Miyabi that ran everything as the embedded superuser."""

    def __init__(self, name: str, owner: str, home: object) -> None:
        super().__init__(
            f"The local database {name} in {home} belongs to {owner}, from a Miyabi that ran as the "
            "embedded superuser; this one runs as the RDS-shaped owner and cannot take it over. "
            f"Keep a copy (`pg_dump` it, or move {home} aside), then `invoke deploy` builds a new one."
        )
        self.name = name


class MigrationsNotClean(DatabaseError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the migrations (listed above); fix them and "
                         "run `invoke db.lint` again.")
        self.problems = problems
