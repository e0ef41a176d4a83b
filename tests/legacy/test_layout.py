"""The importer's shape: one strategy per table of the plan, and a runtime package that imports
neither rich (the operator's display, in ops/tasks/legacy.py) nor its own testing module."""

from __future__ import annotations

import subprocess
import sys

from app.settings import REPOSITORY_ROOT
from legacy.plan import STEPS
from legacy.rules import RULES
from legacy.setwise import SETWISE
from legacy.strategies import STRATEGIES, RowWise, SetWise


def test_every_table_of_the_plan_has_one_strategy_in_plan_order():
    covered = [step.source for s in STRATEGIES
               for step in ((s.step,) if isinstance(s, RowWise) else (s.tasks, s.events))]
    assert covered == [step.source for step in STEPS]
    assert {s.step.source for s in STRATEGIES if isinstance(s, RowWise)}.isdisjoint(SETWISE)
    assert [s for s in STRATEGIES if isinstance(s, SetWise)] and set(RULES) == SETWISE


def test_rule_messages_are_unique_per_table():
    for table, rules in RULES.items():
        assert len({rule.message for rule in rules}) == len(rules), table


def test_the_runtime_imports_neither_rich_nor_the_testing_module():
    probe = ("import sys, legacy.__main__, legacy.run, legacy.undo; "
             "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] == 'rich'} | "
             "{m for m in sys.modules if m.startswith('legacy.testing')}))")
    found = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY_ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == "[]"
