"""Scalar normalisers for legacy values: text, timestamps, booleans, integers, JSON, statuses.

Each returns the clean value, or raises Unreadable so the caller reports what it did with it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# PostgreSQL text cannot hold NUL; other C0 controls (except tab, newline, return) and DEL are
# invisible garbage in titles and names.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?$")


class Unreadable(ValueError):
    """A legacy value that cannot be read as the type its column needs."""


def clean_text(value: Any) -> str | None:
    """Text without NUL and control characters; numbers stored in text columns become text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value)
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def email_of(value: Any) -> str | None:
    """The address trimmed, or None when it is not an e-mail address."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.strip()
    return text if _EMAIL.match(text) else None


def timestamp(value: Any) -> datetime | None:
    """ISO-8601 (zone or not), 'YYYY-MM-DD HH:MM:SS' or epoch seconds, as UTC; None for NULL."""
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is int or kind is float:
        return _from_epoch(value)
    text = value.strip() if kind is str else clean_text(value).strip()
    try:
        # Python 3.11 reads ISO-8601 with or without zone (and 'Z') and 'YYYY-MM-DD HH:MM:SS'.
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        if _NUMERIC.match(text):
            return _from_epoch(float(text))
        raise Unreadable(f"not a timestamp: {text[:40]!r}") from error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise Unreadable(f"epoch out of range: {seconds}") from error


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def boolean(value: Any) -> bool | None:
    """0/1, 'true'/'false', 'yes'/'no' (any case) as a boolean; None for NULL."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Unreadable(f"not a boolean: {text[:20]!r}")


def integer(value: Any, low: int = -(2**63), high: int = 2**63 - 1) -> int | None:
    """An integer, also from numeric text; None for NULL."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unreadable("a boolean is not an integer")
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip().lstrip("#"))
    except ValueError as error:
        raise Unreadable(f"not an integer: {str(value)[:20]!r}") from error
    if not low <= number <= high:
        raise Unreadable(f"out of range: {number}")
    return number


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# One decoder for all rows (json.loads with options builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class RawJson(str):
    """JSON text already checked valid, passed to PostgreSQL as it is (no re-encoding)."""


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        # Lone surrogates (from \\ud800 escapes) cannot be encoded as UTF-8: replace them.
        return clean_text(value.encode("utf-8", "replace").decode("utf-8"))
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _scrub(v) for k, v in value.items()}
    return value


def json_value(value: Any) -> tuple[Any, bool]:
    """(JSON value, was_wrapped): valid JSON is kept, anything else kept as text inside JSON.

    NaN/Infinity are not JSON for PostgreSQL, and \\u0000 cannot be stored in jsonb, so both
    are handled here rather than failing the COPY.
    """
    if value is None:
        return None, False
    text = clean_text(value) if not isinstance(value, str) else value
    try:
        parsed = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return {"legacy_text": clean_text(text)}, True
    # Escapes may hide NUL or lone surrogates, which jsonb refuses: only then rebuild the value.
    return (_scrub(parsed) if "\\u" in text else RawJson(text)), False


TASK_STATUSES = {
    "pending": "pending", "new": "pending", "todo": "pending", "open": "pending",
    "queued": "pending", "waiting": "pending",
    "running": "running", "in_progress": "running", "in-progress": "running",
    "inprogress": "running", "started": "running", "active": "running", "working": "running",
    "done": "done", "completed": "done", "complete": "done", "finished": "done",
    "success": "done", "succeeded": "done", "ok": "done",
    "failed": "failed", "error": "failed", "errored": "failed", "failure": "failed",
    "fail": "failed",
    "cancelled": "cancelled", "canceled": "cancelled", "aborted": "cancelled",
    "cancel": "cancelled",
}
AGENT_STATUSES = {
    "idle": "idle", "ready": "idle", "waiting": "idle",
    "running": "running", "busy": "running", "active": "running", "working": "running",
    "stopped": "stopped", "stop": "stopped", "offline": "stopped", "disabled": "stopped",
    "inactive": "stopped",
    "error": "error", "failed": "error", "crashed": "error", "errored": "error",
}
ROLES = {
    "admin": "Admin", "owner": "Admin", "administrator": "Admin", "superuser": "Admin",
    "member": "Member", "user": "Member", "editor": "Member", "developer": "Member",
    "viewer": "Viewer", "readonly": "Viewer", "read-only": "Viewer", "guest": "Viewer",
}
ROLE_RANK = {"Viewer": 0, "Member": 1, "Admin": 2}


def mapped(value: Any, mapping: dict[str, str]) -> str | None:
    """The new spelling of a legacy status or role, or None when it is not a known one."""
    if value is None:
        return None
    key = str(value).strip().lower().replace(" ", "_")
    return mapping.get(key) or mapping.get(key.replace("_", "-"))
