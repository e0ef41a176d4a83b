"""Deterministic ids: the same file imported into the same organization gets the same uuids,
so an interrupted run repeated and a clean run end byte-identical."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6d1a3c52-6f0e-4c1b-9a57-1e6a0d7c4b21")
_LOW_64 = (1 << 64) - 1


def organization_id(slug: str, source_sha256: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{slug}\x00{source_sha256}")


class RowIds:
    """uuids for an organization's imported rows: a per-table 64-bit prefix + the legacy id.

    uuid5 per row would cost a SHA-1 for each of millions of rows; a prefix derived once per
    table keeps ids unique across tables and organizations at the cost of one OR.
    """

    def __init__(self, org_id: uuid.UUID) -> None:
        self.org_id = org_id
        self._prefixes: dict[str, str] = {}

    def prefix(self, table: str) -> str:
        """The first 19 characters of every uuid of `table` (legacy.sqlexpr builds the rest)."""
        if table not in self._prefixes:
            self._prefixes[table] = str(uuid.uuid5(self.org_id, table))[:19]
        return self._prefixes[table]

    def of(self, table: str, legacy_id: int) -> str:
        """The uuid (as text, which is all COPY needs) of row `legacy_id` of `table`."""
        low = legacy_id & _LOW_64
        return f"{self.prefix(table)}{low >> 48:04x}-{low & 0xFFFFFFFFFFFF:012x}"

    def of_text(self, table: str, legacy_id: str) -> uuid.UUID:
        return uuid.uuid5(self.org_id, f"{table}:{legacy_id}")
