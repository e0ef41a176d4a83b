"""Error tracking with Sentry, when `SENTRY_DSN` is set (the optional `sentry` extra).

Unhandled errors of the API (logged at ERROR with their exception by the request middleware
and the error handlers), of the Lambda functions and of the pipeline's commands become Sentry
events, tagged with the release, the stack and the request id. Before an event leaves the
process, `scrub` removes what must never reach a third party: the request's headers, cookies,
body and query string, local variables, and any token, API key, password, database URL or
e-mail address left in a message. Without a DSN nothing is imported or changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.logs import current_request_id
from app.settings import Settings

REDACTED = "[redacted]"

# Strings that must not leave the process, wherever in an event they turn up.
_SECRETS = [
    re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),  # a JWT
    re.compile(r"\b(?:mk|mr|mv|mb)_[\w-]{8,}"),  # an API key or another prefixed token
    re.compile(r"(?i)\b(bearer|bot|basic)\s+[\w.~+/=-]{8,}"),  # an Authorization value
    re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"),  # a password in a database URL
    re.compile(r"(?i)\b(password|passwd|secret|token|api_key|key|dsn|code)(\s*[=:]\s*)[^\s,;&'\"]+"),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # an e-mail address (and so a mail's recipients)
]
# Request parts that carry credentials or people's data: dropped whole.
_REQUEST_PARTS = ("headers", "cookies", "data", "query_string", "env")


def scrub_text(text: str) -> str:
    """`text` with tokens, keys, passwords and e-mail addresses replaced by a marker."""
    for pattern in _SECRETS:
        text = pattern.sub(_replacement(pattern), text)
    return text


def _replacement(pattern: re.Pattern[str]) -> str:
    return {1: rf"\1{REDACTED}", 2: rf"\1\2{REDACTED}"}.get(pattern.groups, REDACTED)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's `before_send`: the event without credentials, bodies or e-mail addresses."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in _REQUEST_PARTS:
            request.pop(part, None)
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    event.pop("user", None)
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return _scrub(event)


def init_error_tracking(settings: Settings, component: str) -> bool:
    """Start sending unhandled errors of `component` (api, migrate, pipeline) to Sentry.

    Does nothing and returns False without `SENTRY_DSN`; with it, the `sentry` extra must be
    installed (`pip install -e '.[sentry]'`).
    """
    if not settings.sentry_dsn:
        return False
    try:
        import sentry_sdk
    except ImportError as error:
        raise RuntimeError("SENTRY_DSN is set but sentry-sdk is not installed: "
                           "pip install -e '.[sentry]'") from error
    sentry_sdk.init(
        dsn=settings.sentry_dsn, release=settings.release, environment=settings.stack,
        include_local_variables=False, max_request_body_size="never",  # PII off by default
        # Errors reach Sentry through the logging integration (the middleware and the error
        # handlers log them at ERROR with the exception): one event per error, not one per layer.
        auto_enabling_integrations=False, traces_sample_rate=0, before_send=scrub,
        before_breadcrumb=lambda crumb, hint: _scrub(crumb),
    )
    sentry_sdk.set_tag("stack", settings.stack)
    sentry_sdk.set_tag("component", component)
    return True
