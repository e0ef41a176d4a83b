"""Verification's source side computed while the import inserts.

The source side of verification does not depend on the target: it is the file read afresh and
normalised again (legacy.sources), and the file's SHA-256 computed again. `import ... --verify`
starts it when the import begins inserting into the target (a single-core phase of
PostgreSQL) on helper connections, so verification afterwards only reads the target back. A
stand-alone `legacy.verify` computes it itself.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field

import psycopg

from legacy.checksums import Checksum, SourceSide
from legacy.helpers import Helpers
from legacy.plan import Step
from legacy.report import Report
from legacy.source import LegacySource, fingerprint
from legacy.sources import ImportRecord, source_sides


@dataclass
class SourceSums:
    """What verification needs from the source side: the file's fingerprint, a checksum per
    target table, and the accounting of every row."""

    org_id: uuid.UUID
    sha256: str = ""
    sums: dict[str, Checksum] = field(default_factory=dict)
    report: Report = field(default_factory=Report)


def _kept(conn: psycopg.Connection, step: Step, side: SourceSide) -> tuple[str, Checksum]:
    return step.target, side.checksum


@dataclass
class Ahead:
    """Started by the importer (`start`), read by verification (`result`)."""

    helpers: Helpers
    _found: SourceSums | None = None
    _pending: Future[None] | None = None

    def start(self, source: LegacySource, record: ImportRecord) -> None:
        found = self._found = SourceSums(record.org_id)

        def compute(conn: psycopg.Connection, own: LegacySource) -> None:
            people, sides = source_sides(conn, own, self.helpers, record, found.report, _kept,
                                         one_core=True)
            found.sums = {**people, **dict(s.result() if isinstance(s, Future) else s for s in sides)}
            # Read again, not taken from the import: the file has not changed since it was opened.
            found.sha256 = fingerprint(own.path)
        self._pending = self.helpers.submit(record.org_id, source, compute)

    def result(self) -> SourceSums | None:
        """The sums, or None if they were not started or failed (verify then computes them)."""
        if self._found is None or self._pending is None:
            return None
        try:
            self._pending.result()
        except Exception:  # noqa: BLE001 - only a shortcut; verify() does the full work instead
            self._found.report.close()
            return None
        return self._found
