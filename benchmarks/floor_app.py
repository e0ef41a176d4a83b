"""The framework's floor for `benchmarks.api_tasks`: the API's stack answering a constant page.

    MIYABI_FLOOR_PAGE=page.json uvicorn benchmarks.floor_app:app

The same FastAPI application shape as `app.main.create_app` (the same error handlers and
middleware: request id and request log, body limit) with one route, `GET /api/tasks`, that
answers the bytes of MIYABI_FLOOR_PAGE (a real page of the API, already encoded) without a
database: what routing, HTTP and the middleware cost on their own.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from app.errors import install_error_handlers
from app.logs import configure_logging
from app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.settings import get_settings


def create_floor_app(page: bytes) -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_json)
    app = FastAPI(title="Miyabi API floor")
    install_error_handlers(app)

    @app.get("/api/tasks")
    async def list_tasks() -> Response:
        return Response(content=page, media_type="application/json")

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def __getattr__(name: str) -> FastAPI:
    if name == "app":
        application = create_floor_app(Path(os.environ["MIYABI_FLOOR_PAGE"]).read_bytes())
        globals()["app"] = application
        return application
    raise AttributeError(name)
