"""Lint the migrations: squawk's rules (settings in .squawk.toml) plus Miyabi's own."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from db.errors import MigrationFolderInvalid
from db.settings import REPOSITORY_ROOT

ANONYMOUS_INDEX = re.compile(r"create\s+(unique\s+)?index\s+(concurrently\s+)?on\b", re.I)
TABLE_WITH_ORG = re.compile(
    r"create\s+table\s+(\w+)\s*\((?:(?!\);).)*?\borganization_id\b", re.I | re.S)
DEPENDS = re.compile(r"^--\s*depends:", re.M)


def _squawk() -> str:
    beside_python = Path(sys.executable).parent / "squawk"
    found = str(beside_python) if beside_python.exists() else shutil.which("squawk")
    if found is None:
        raise MigrationFolderInvalid("squawk", "squawk is not installed (pip install squawk-cli)")
    return found


def squawk_problems(files: list[Path]) -> list[str]:
    """squawk's findings, one line each (file:line:col: rule message)."""
    result = subprocess.run(
        [_squawk(), "--reporter", "gcc", "-c", str(REPOSITORY_ROOT / ".squawk.toml"),
         *map(str, files)], capture_output=True, text=True, check=False)
    return [line for line in result.stdout.splitlines() if ": warning:" in line
            or ": error:" in line]


def own_problems(folder: Path) -> list[str]:
    """Miyabi's rules: rollbacks exist, steps chain, indexes are named, tenant tables use RLS."""
    problems = []
    forward = sorted(p for p in folder.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    for position, path in enumerate(forward):
        text = path.read_text()
        if not path.with_suffix(".rollback.sql").exists():
            problems.append(f"{path.name}: no {path.stem}.rollback.sql beside it")
        if position > 0 and not DEPENDS.search(text):
            problems.append(f"{path.name}: no '-- depends:' line naming the step before it")
        if ANONYMOUS_INDEX.search(text):
            problems.append(f"{path.name}: an index without a name; name it <table>_<cols>_idx")
        for table in TABLE_WITH_ORG.findall(text):
            isolated = (f"enable_tenant_isolation('{table}')" in text
                        or re.search(rf"alter\s+table\s+{table}\s+force\s+row", text, re.I))
            if not isolated:
                problems.append(f"{path.name}: tenant table {table} gets no row-level security; "
                                f"CALL enable_tenant_isolation('{table}')")
    return problems


def lint(folder: Path) -> list[str]:
    """Every problem found in the migrations of `folder` (empty when clean)."""
    if not folder.is_dir():
        raise MigrationFolderInvalid(folder, "no such folder")
    return own_problems(folder) + squawk_problems(sorted(folder.glob("*.sql")))
