"""`deps.*` tasks: the locked, hashed dependency files under requirements/."""

from __future__ import annotations

from invoke import Collection, Context, task

from app.settings import REPOSITORY_ROOT
from ops.deps.lock import lock as compile_locks
from ops.tasks.common import console, run


@task(name="lock", help={"upgrade": "move every pin to the newest version pyproject.toml allows "
                                     "(default: keep the pins that still fit)"})
def lock_task(c: Context, upgrade: bool = False) -> None:
    """Recompile requirements/ci.txt and requirements/lambda.txt from pyproject.toml (pins and sha256)."""
    for path in run(lambda: compile_locks(REPOSITORY_ROOT, upgrade=upgrade)):
        console.print(f"wrote {path.relative_to(REPOSITORY_ROOT)}")


ns = Collection("deps")
ns.add_task(lock_task)
