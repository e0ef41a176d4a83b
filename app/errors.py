"""One error shape for every answer from 400 up, and the handlers that produce it.

`{"error": {"code", "message", "details"}, "request_id"}`: `code` is a stable snake_case word a
client can branch on; `message` a sentence for a person; `details` a list (validation: the fields).
ApiError is the API's branch of the one tree of actionable errors (docs/errors.md); the root is
re-exported here for bot/, which imports app/ only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.logs import current_request_id, logger
from db.actionable import MiyabiError as MiyabiError  # the root, re-exported for bot/

# Constraints whose violation means "the state does not allow this" rather than "bad input".
STATE_CONSTRAINTS = {"tasks_status_move_check", "member_roles_last_admin", "roles_builtin_read_only"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ApiError(MiyabiError):
    """A failure the client can act on: answered with `status` in the one error shape."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def unauthorized(message: str = "Missing or invalid credentials.", code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str, code: str = "forbidden") -> ApiError:
    return ApiError(403, code, message)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"The {what} does not exist.")


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, message)


@contextmanager
def linking(missing: str, already: ApiError) -> Iterator[None]:
    """Around the insert of a row that links two others (a member to a role, a user to a team):
    a foreign-key violation answers 404 for `missing`, a unique violation `already`."""
    try:
        yield
    except pg.ForeignKeyViolation as error:
        raise not_found(missing) from error
    except pg.UniqueViolation as error:
        raise already from error


def unprocessable(message: str, details: list[Any] | None = None,
                  code: str = "validation_error") -> ApiError:
    return ApiError(422, code, message, details)


def too_many(message: str, retry_after: int) -> ApiError:
    return ApiError(429, "too_many_attempts", message, headers={"Retry-After": str(retry_after)})


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []},
            "request_id": current_request_id()}


def error_response(status: int, code: str, message: str, details: list[Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _status_code_word(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (Starlette's 405 names one route's)."""
    routes = request.app.router.routes
    return ", ".join(method for method in METHODS
                     if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                            for route in routes))


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    message = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = getattr(error, "headers", None)
    if error.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(error.status_code, _status_code_word(error.status_code), message,
                          headers=headers)


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", ""),
             "type": e.get("type", "")} for e in errors]


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.",
                              validation_details(errors))
    return error_response(422, "validation_error", "Some fields are missing or invalid.",
                          validation_details(errors))


def database_error(error: psycopg.Error) -> ApiError:
    """The answer a PostgreSQL error deserves: 404/409/422 for what input can cause, else 503."""
    constraint = getattr(error.diag, "constraint_name", None)
    if isinstance(error, pg.UniqueViolation):
        return conflict("That already exists.", "already_exists")
    if isinstance(error, pg.ForeignKeyViolation):
        if "still referenced" in (error.diag.message_detail or ""):
            return conflict("Something still refers to this.", "still_referenced")
        # Foreign keys ignore row-level security: answer like a missing row, revealing nothing.
        return not_found("referenced resource")
    if constraint in STATE_CONSTRAINTS or isinstance(error, pg.RestrictViolation):
        return conflict(error.diag.message_primary or "The current state does not allow this.",
                        constraint or "conflict")
    if isinstance(error, pg.IntegrityError | pg.DataError):
        return unprocessable(error.diag.message_primary or "A value is not acceptable.",
                             [{"constraint": constraint}] if constraint else None)
    if isinstance(error, pg.OperationalError | pg.SerializationFailure | pg.DeadlockDetected):
        return ApiError(503, "database_unavailable", "The database is busy or unreachable; retry.",
                        headers={"Retry-After": "1"})
    raise error


async def _psycopg_error(request: Request, error: psycopg.Error) -> JSONResponse:
    try:
        answer = database_error(error)
    except psycopg.Error:
        return await _unexpected(request, error)
    return await _api_error(request, answer)


async def _pool_timeout(request: Request, error: PoolTimeout) -> JSONResponse:
    logger.warning("no database connection free in time")
    return error_response(503, "database_unavailable", "The database is busy; retry.",
                          headers={"Retry-After": "1"})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, "internal_error", "Something went wrong on our side; it is logged.")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure to the one error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(psycopg.Error, _psycopg_error)
