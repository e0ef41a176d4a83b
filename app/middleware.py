"""ASGI middleware: a request id on every answer and log line, and a limit on body size."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.logs import logger, request_id_var

# A client may send its own id (to follow a call across systems) if it is short and plain.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


class RequestContextMiddleware:
    """Gives each request an id (`X-Request-Id`), logs it, and answers 500s in the error shape.

    It sits outside FastAPI's own handlers, so even a crash in a dependency's cleanup gets an
    answer with the id a person can quote when reporting it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _CLIENT_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        state = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            logger.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=error)
            if state["status"]:
                raise
            response = error_response(500, "internal_error",
                                      "Something went wrong on our side; it is logged.")
            await response(scope, receive, send_with_id)
        finally:
            fields = request_fields(scope, state["status"], time.perf_counter() - started)
            logger.info("%s %s %s", fields["method"], fields["route"] or fields["path"], fields["status"],
                        extra={"fields": fields})
            request_id_var.reset(token)


def request_fields(scope: Scope, status: int, seconds: float) -> dict[str, Any]:
    """The facts of one answered request for its log line: never a header, token or body.

    A matched route is logged by its template (`/api/tasks/{id}`), so a path never carries a
    token into the logs; the organization is the one the caller acted in, if any.
    """
    route = scope.get("route")
    caller = (scope.get("state") or {}).get("caller")
    organization = getattr(caller, "organization_id", None)
    return {"method": scope["method"], "route": getattr(route, "path", None),
            "path": None if route is not None else scope["path"], "status": status,
            "ms": round(seconds * 1000, 2),
            "organization_id": str(organization) if organization else None,
            # On Lambda (Mangum), the invocation's id: joins this line to Lambda's REPORT line.
            "lambda_request_id": getattr(scope.get("aws.context"), "aws_request_id", None)}


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "body_too_large",
                                  f"The request body is larger than {self.max_bytes} bytes.")
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    """A streamed body went past the limit."""
