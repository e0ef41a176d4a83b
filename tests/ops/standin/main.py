"""A stand-in for app.main: health, readiness against the schema level, the release's name.

Release tests copy it in as `app/main.py` so the release mechanism is tested without the
whole API; `MIYABI_STANDIN_BROKEN=1` makes readiness fail, as a broken release would. Health
names the worker process that answered; `/api/hold` keeps that worker's event loop busy, so
the next connection has to be accepted by another worker.
"""

from __future__ import annotations

import os
import time

import psycopg
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.settings import get_settings
from db import local
from db.levels import current_level
from db.migrate import expected_level, load_migrations

app = FastAPI()


def _level() -> str:
    settings = get_settings()
    with psycopg.connect(local.app_url(settings), connect_timeout=5) as conn:
        applied = {row[0] for row in conn.execute("select migration_id from _yoyo_migration")}
    return current_level([m.id for m in load_migrations(settings.migrations_dir)], applied)


@app.get("/api/health")
def health() -> dict:
    return {"status": "ok", "release": get_settings().release, "pid": os.getpid()}


@app.get("/api/hold")
async def hold(seconds: float) -> dict:
    time.sleep(seconds)  # on the event loop on purpose: this worker accepts nothing meanwhile
    return {"pid": os.getpid()}


@app.get("/api/health/ready")
def ready() -> JSONResponse:
    settings = get_settings()
    wanted, level = expected_level(settings.migrations_dir), _level()
    if os.environ.get("MIYABI_STANDIN_BROKEN") or level != wanted:
        return JSONResponse({"status": "not ready", "level": level, "expected": wanted}, 503)
    return JSONResponse({"status": "ready", "level": level, "release": settings.release})
