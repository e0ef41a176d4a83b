"""`invoke serve`: the API on this machine, against the local database at the code's level."""

from __future__ import annotations

from invoke import Collection, Context, task

from db import local
from ops.tasks.common import console, run, say, settings


def _migrate_local() -> None:
    applied = local.migrate_to_code_level(settings(), say)
    console.print(f"schema ready ({len(applied)} migration(s) applied)")


@task(help={"port": "the port to listen on (default: MIYABI_PORT, 8000)",
            "reload": "restart when the code changes (development)",
            "workers": "uvicorn worker processes (default 1)"})
def serve(c: Context, port: int = 0, reload: bool = False, workers: int = 1) -> None:
    """Migrate the local database, then serve the API (app.main:app) on 127.0.0.1."""
    import uvicorn

    config = settings()
    run(_migrate_local)
    listen = port or config.port
    console.print(f"serving Miyabi API on http://127.0.0.1:{listen} (Ctrl-C stops)")
    uvicorn.run("app.main:app", host="127.0.0.1", port=listen, reload=reload,
                workers=None if reload else workers, log_level="info")


TOP_LEVEL = (serve,)
ns = Collection("app")
