"""Health: liveness and readiness (no authentication)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from app.deps import AppSettings, Pool
from app.errors import ApiError, error_body
from app.resources.health import APPLIED, migration_ids
from db.levels import current_level

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", summary="The process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="The database answers and the schema is at the expected level",
            responses={503: {"description": "Not ready, with the reason in the error shape"}})
async def ready(request: Request, pool: Pool, settings: AppSettings) -> JSONResponse:
    known = migration_ids(settings.migrations_dir)
    try:
        async with request.app.state.database.connection(pool) as conn:
            rows = await (await conn.execute(APPLIED)).fetchall()
    except ApiError as error:
        return _not_ready(error.code, error.message)
    except (psycopg.Error, PoolTimeout) as error:
        return _not_ready("database_unavailable",
                          f"The database does not answer ({type(error).__name__}).")
    level = current_level(known, {row["migration_id"] for row in rows})
    if level != known[-1]:
        return _not_ready("schema_mismatch", f"The schema is at {level}; this code expects {known[-1]}.",
                          {"current": level, "expected": known[-1]})
    return JSONResponse({"status": "ready", "schema_level": level})


def _not_ready(code: str, message: str, details: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, [details] if details else None), status_code=503)
