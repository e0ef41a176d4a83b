"""The served OpenAPI document, made exact: it says what the API accepts and what it answers.

FastAPI documents an optional header or query parameter as `anyOf: [X, null]`, but a header or
query string cannot carry a JSON null (a client sending `Last-Event-ID: null` gets a 422): such
parameters are documented as X, and omitting them is how a client says "none". Formats the API
checks itself (a cursor, the organization header, an event id) are written into the schemas, and
every operation that can answer 400 documents it, with the reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
PARAMETER_LOCATIONS = {"query", "header", "path", "cookie"}

# What the API itself checks in these parameters, beyond their type.
CURSOR_SCHEMA = {"type": "string", "maxLength": 500, "pattern": "^[A-Za-z0-9_-]*$",
                 "description": "`next_cursor` of the previous page, unchanged (base64url); any "
                                "other value is 400 `invalid_cursor`"}
ORGANIZATION_SCHEMA = {"type": "string", "format": "uuid"}
EVENT_ID_SCHEMA = {"type": "string", "pattern": "^[0-9]{1,18}$",
                   "description": "Digits: the id of the last event received"}

# 400s that particular operations answer besides the general ones below.
OPERATION_400 = {
    ("post", "/api/auth/verify-email"): "`invalid_token`: the link is invalid, expired or used",
    ("post", "/api/auth/reset-password"): "`invalid_token`: the link is invalid, expired or used",
}


class ErrorDetails(BaseModel):
    code: str
    message: str
    details: list[Any]


class ErrorBody(BaseModel):
    """The one error shape of every answer from 400 up (app/errors.py)."""

    error: ErrorDetails
    request_id: str


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if len(branches) != 1 or len(schema["anyOf"]) != 2:
        return schema
    outer = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**branches[0], **outer}


def _parameter_schema(parameter: dict[str, Any]) -> dict[str, Any]:
    name, where = parameter["name"].lower(), parameter["in"]
    schema = _without_null(parameter["schema"])
    if where == "query" and name == "cursor":
        return {**CURSOR_SCHEMA, "title": schema.get("title", "Cursor")}
    if where == "header" and name == "x-organization-id":
        return {**schema, **ORGANIZATION_SCHEMA}
    if where == "header" and name == "last-event-id":
        return {**EVENT_ID_SCHEMA, "title": schema.get("title", "Last-Event-Id")}
    return schema


def _reasons_for_400(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    names = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
    reasons = []
    if "requestBody" in operation:
        reasons.append("`malformed_json`: the body is not JSON")
    if ("query", "cursor") in names:
        reasons.append("`invalid_cursor`: a cursor this API did not give out")
    if ("header", "x-organization-id") in names:
        reasons.append("`X-Organization-Id` missing where needed, or not a UUID")
    if (method, path) in OPERATION_400:
        reasons.append(OPERATION_400[(method, path)])
    return reasons


def refine(document: dict[str, Any]) -> dict[str, Any]:
    """Make `document` (FastAPI's) exact, in place; returns it."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in PARAMETER_LOCATIONS and "schema" in parameter:
                    parameter["schema"] = _parameter_schema(parameter)
                    if "description" in parameter["schema"]:
                        parameter["description"] = parameter["schema"]["description"]
            reasons = _reasons_for_400(method, path, operation)
            responses = operation["responses"]
            if reasons:
                existing = responses.get("400", {}).get("description")
                responses["400"] = {
                    "description": "; ".join([existing, *reasons] if existing else reasons),
                    "content": {"application/json": {"schema": ERROR_REF}}}
            elif "400" in responses:
                responses["400"].setdefault("content", {"application/json": {"schema": ERROR_REF}})
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the refined document at /openapi.json (built once, on first request)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            refine(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

