"""db.lint: the real migrations are clean; each of our rules catches its mistake."""

from __future__ import annotations

import shutil

from db.lint import lint
from tests.conftest import MIGRATIONS


def test_the_migrations_are_clean():
    assert lint(MIGRATIONS) == []


def test_lint_catches_our_rules_and_squawks(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "0099_sloppy.sql").write_text(
        "CREATE TABLE sloppy (id int, organization_id uuid NOT NULL);\n"
        "CREATE INDEX ON sloppy (organization_id);\n"
        "ALTER TABLE tasks ADD COLUMN extra text NOT NULL;\n")
    problems = "\n".join(lint(folder))
    assert "0099_sloppy.sql: no 0099_sloppy.rollback.sql" in problems
    assert "0099_sloppy.sql: no '-- depends:'" in problems
    assert "an index without a name" in problems
    assert "tenant table sloppy gets no row-level security" in problems
    assert "adding-required-field" in problems or "require-lock-timeout" in problems
