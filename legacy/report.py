"""The import's accounting: per table read = imported + merged + quarantined, every merged or
quarantined row with its reason, and every value that was changed to fit (counted, with examples)."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legacy.values import clean_text

EXAMPLES_KEPT = 20
SECRET_COLUMNS = frozenset({"token", "key", "password_hash"})


@dataclass
class Report:
    """What happened to every row of the legacy file."""

    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: list[tuple] = field(default_factory=list)  # (table, legacy id, action, reason, into)
    fixes: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict))
    meta: dict[str, Any] = field(default_factory=dict)
    # Whole quarantined rows (secrets removed) for legacy_quarantine, spooled to a temporary
    # file as JSON lines: there can be many, and memory must not grow with them.
    _spool: Any = field(default_factory=lambda: tempfile.TemporaryFile("w+", encoding="utf-8"))  # noqa: SIM115 - closed by close()

    def table(self, name: str) -> dict[str, int]:
        counts = self.tables.get(name)
        if counts is None:
            counts = self.tables[name] = {"read": 0, "imported": 0, "merged": 0, "quarantined": 0}
        return counts

    def read(self, name: str) -> None:
        self.table(name)["read"] += 1

    def imported(self, name: str) -> None:
        self.table(name)["imported"] += 1

    def merged(self, name: str, legacy_id: Any, reason: str, into: Any) -> None:
        self.table(name)["merged"] += 1
        self.rows.append((name, legacy_id, "merged", reason, into))

    def quarantined(self, name: str, legacy_id: Any, reason: str, row: dict[str, Any]) -> None:
        self.table(name)["quarantined"] += 1
        self.rows.append((name, legacy_id, "quarantined", reason, None))
        kept = {k: ("<removed>" if k in SECRET_COLUMNS and v is not None else
                    clean_text(v) if isinstance(v, str | bytes) else v)
                for k, v in row.items()}
        self._spool.write(json.dumps([name, str(legacy_id), reason, kept], default=str) + "\n")

    def quarantined_rows(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """Every quarantined row as (table, legacy id, reason, row), read back from the spool."""
        self._spool.seek(0)
        for line in self._spool:
            yield tuple(json.loads(line))
        self._spool.seek(0, 2)

    def close(self) -> None:
        self._spool.close()

    def fix(self, name: str, what: str, legacy_id: Any) -> None:
        """Record a value changed to fit the new schema (e.g. an unreadable timestamp -> NULL)."""
        entry = self.fixes[name].setdefault(what, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES_KEPT:
            entry["examples"].append(legacy_id)

    def take(self, part: Report, name: str, *, with_rows: bool = False) -> None:
        """Take over the accounting of table `name` from `part` (a report another connection
        kept), and with `with_rows` every merged or quarantined row it lists."""
        if name in part.tables:
            self.tables[name] = part.tables[name]
        if name in part.fixes:
            self.fixes[name] = part.fixes[name]
        if with_rows:
            self.rows.extend(part.rows)

    def unbalanced(self) -> list[str]:
        """Tables whose read count is not imported + merged + quarantined."""
        return [f"{name}: read {c['read']} != imported {c['imported']} + merged {c['merged']} "
                f"+ quarantined {c['quarantined']}"
                for name, c in self.tables.items()
                if c["read"] != c["imported"] + c["merged"] + c["quarantined"]]

    def listed_rows(self) -> list[dict[str, Any]]:
        return [{"table": t, "legacy_id": i, "action": a, "reason": r,
                 **({"merged_into": into} if a == "merged" else {})} for t, i, a, r, into in self.rows]

    def as_json(self) -> dict[str, Any]:
        return {**self.meta, "tables": self.tables, "rows": self.listed_rows(),
                "fixes": {k: dict(v) for k, v in self.fixes.items()}}



def write_document(document: dict[str, Any], path: Path) -> Path:
    """Write a report document as JSON to `path` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str, ensure_ascii=False))
    return path


def reasons(document: dict[str, Any]) -> dict[tuple[str, str], int]:
    """How many rows were merged or quarantined, per (table, reason)."""
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for row in document["rows"]:
        counted[(row["table"], f"{row['action']}: {row['reason']}")] += 1
    return dict(counted)
