"""The one schema level: ordered by position in the migration list, never as strings."""

from __future__ import annotations

import pytest

from db.levels import BASE_LEVEL, current_level, merged, position

# As strings "9_nine" sorts after "10_ten"; by position 10_ten is the newer.
KNOWN = ["1_one", "9_nine", "10_ten"]


def test_the_newest_applied_by_position() -> None:
    assert current_level(KNOWN, {"1_one", "9_nine", "10_ten"}) == "10_ten"
    assert current_level(KNOWN, {"1_one", "9_nine"}) == "9_nine"


def test_nothing_applied_is_base() -> None:
    assert current_level(KNOWN, set()) == BASE_LEVEL
    assert current_level(KNOWN, {"elsewhere"}) == BASE_LEVEL


def test_position_orders_levels() -> None:
    assert position(KNOWN, "10_ten") > position(KNOWN, "9_nine") > position(KNOWN, BASE_LEVEL)
    with pytest.raises(ValueError):
        position(KNOWN, "11_unknown")


def test_merged_keeps_the_longest_list_order() -> None:
    assert merged([["1_one", "9_nine"], KNOWN, ["1_one", "9_nine", "9b_branch"]]) == [*KNOWN, "9b_branch"]


def test_every_reader_uses_the_one_function() -> None:
    from app.routes import health, status
    from db import migrate

    assert health.current_level is status.current_level is current_level
    assert migrate.level_of is current_level
