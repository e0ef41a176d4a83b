"""The ASGI application: `uvicorn app.main:app` serves it; tests build one with create_app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.availability import DatabaseAvailability
from app.dashboard import install_dashboard
from app.email import email_sender
from app.errors import error_body, install_error_handlers
from app.errors_tracking import init_error_tracking
from app.fast_tasks import FastTaskList
from app.logs import configure_logging
from app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.openapi import ErrorBody, install_openapi
from app.routes import ROUTERS
from app.security import signing_secret
from app.settings import Settings, get_settings
from db.local import app_url

DESCRIPTION = ("Miyabi: agents, tasks and the people who run them. Contract: docs/api.md; "
               "architecture: docs/architecture.md; operations: docs/operations.md; layout: docs/layout.md.")


def create_pool(settings: Settings) -> AsyncConnectionPool:
    """The pool of connections as the application role (opened by the lifespan)."""
    # RDS Proxy refuses startup options (its init query sets the time zone instead), and a
    # server-side prepared statement would pin the proxied connection to this client.
    kwargs = ({"row_factory": dict_row, "prepare_threshold": None} if settings.db_proxy
              else {"row_factory": dict_row, "options": "-c timezone=UTC"})
    return AsyncConnectionPool(app_url(settings), min_size=settings.pool_min_size,
                               max_size=settings.pool_max_size, timeout=settings.pool_timeout_seconds,
                               kwargs=kwargs, open=False, name="miyabi-api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Miyabi API application for `settings` (the process settings when omitted)."""
    settings = settings or get_settings()
    configure_logging(settings.log_json)
    init_error_tracking(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jwt_secret = signing_secret(settings)
        app.state.email = email_sender(settings)
        app.state.pool = create_pool(settings)
        app.state.database = DatabaseAvailability.of(app.state.pool)
        await app.state.pool.open(wait=settings.pool_min_size > 0)
        try:
            yield
        finally:
            await app.state.database.close()
            await app.state.pool.close()

    app = FastAPI(title="Miyabi API", version=settings.release, description=DESCRIPTION,
                  lifespan=lifespan,
                  responses={"default": {"description": "An error, in the one error shape",
                                         "model": ErrorBody,
                                         "content": {"application/json": {
                                             "example": error_body("not_found", "...")}}}})
    app.state.settings = settings
    install_openapi(app)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    if settings.dashboard_dir.is_dir():  # its pages answer what no route does
        install_dashboard(app, settings.dashboard_dir)
    app.add_middleware(FastTaskList, routers=ROUTERS)  # innermost: after the body limit, before routing
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def __getattr__(name: str) -> FastAPI:
    # `app.main:app` is built on first access, so importing this module (tests, tooling)
    # does not read the process environment.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
