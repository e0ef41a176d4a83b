"""benchmarks/api_tasks.py's pgbench runs the very statements the API sends, and pgbench takes them."""

from __future__ import annotations

import re
import subprocess

import psycopg

from benchmarks.api_tasks import api_statements, bare_statements, pgbench_script, seed
from db.embedded import bin_path


def _answers(url: str, statements: list[str]) -> list[list[tuple]]:
    with psycopg.connect(url) as conn, conn.transaction():
        return [conn.execute(statement).fetchall() for statement in statements]


def _script_statements(script: str) -> list[str]:
    lines = script.splitlines()
    assert lines[0] == "begin;" and lines[-1] == "commit;"
    return [line.removesuffix(";") for line in lines[1:-1]]


def test_the_script_asks_postgresql_what_the_api_asks_and_gets_the_same_answers(database) -> None:
    org, user = seed(database.admin_url, tasks=120, orgs=2)  # 60 each: a page of 50 and more
    statements = api_statements(org, user)
    script = pgbench_script(statements)
    # No pgbench variable is left in the script (`::` casts are not variables)...
    assert not re.search(r"(?<!:):[A-Za-z_]", script)
    assert "HH24:MI:SS" in statements[1]  # ...though the API's own statement has them
    expected = _answers(database.app_url, statements)
    assert _answers(database.app_url, _script_statements(script)) == expected
    permissions, page = expected[1][0]
    assert "task.view" in permissions and page.count('"title":') == 50 and '"next_cursor":"' in page
    bare = _answers(database.app_url, _script_statements(pgbench_script(bare_statements(org, user))))
    assert len(bare[1]) == 51  # the page and one more, all of the organization's own tasks
    owned = _answers(database.admin_url, [f"select set_config('app.org_id', '{org}', true)",
                                          f"select id from tasks where organization_id = '{org}'"])[1]
    assert len(owned) == 60 and {row[0] for row in bare[1]} <= {row[0] for row in owned}


def test_pgbench_runs_the_scripts_without_an_error(database, tmp_path) -> None:
    org, user = seed(database.admin_url, tasks=10, orgs=1)
    for statements in (api_statements(org, user), bare_statements(org, user)):
        script = tmp_path / "script.sql"
        script.write_text(pgbench_script(statements))
        done = subprocess.run([str(bin_path("pgbench")), "-n", "-M", "prepared", "-c", "2", "-t", "5",
                               "-f", str(script), database.app_url], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "number of transactions actually processed: 10/10" in done.stdout
