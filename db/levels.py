"""The schema level: the newest applied migration, by its position in the migration list.

Migration ids are ordered by where they stand in `db/migrations/` (yoyo's order), never
compared as strings. Every reader of the level (migrate, the readiness check, the system
status, the local pipeline) goes through `current_level`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

BASE_LEVEL = "base"


def current_level(known: Sequence[str], applied: Iterable[str]) -> str:
    """The last id of `known` (migration ids in order) that is in `applied`; 'base' when none is."""
    done = set(applied)
    return next((level for level in reversed(known) if level in done), BASE_LEVEL)


def position(known: Sequence[str], level: str) -> int:
    """Where `level` stands in `known`: -1 for 'base'; ValueError for an id `known` lacks."""
    return -1 if level == BASE_LEVEL else list(known).index(level)


def merged(lists: Iterable[Sequence[str]]) -> list[str]:
    """One order for the migration lists of several releases (each a prefix of a newer one):
    the longest list, then any id only the others hold, in their order."""
    order: list[str] = []
    for ids in sorted(lists, key=len, reverse=True):
        order += [level for level in ids if level not in order]
    return order
