"""Error tracking: a route that raises sends one scrubbed event to a stand-in for Sentry's ingest."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from app.errors_tracking import REDACTED, scrub_text
from app.main import create_app
from app.settings import Settings

sentry_sdk = pytest.importorskip("sentry_sdk")

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
API_KEY = "mk_" + "s3cr3tk3y" * 4
EMAIL = "alice.private@example.com"
PASSWORD = "hunter2-correct-horse"  # noqa: S105


class Ingest(ThreadingHTTPServer):
    """Collects the envelopes the SDK posts, decoded into their items."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.raw: list[bytes] = []
        self.items: list[tuple[dict, dict]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Ingest

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.raw.append(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if header.strip():
                self.server.items.append((json.loads(header), json.loads(payload or b"{}")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    server = Ingest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    _tracking_off()


def _tracking_off() -> None:
    """Later tests in this process send nothing (a client without a DSN still counts as on)."""
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def _events(ingest: Ingest) -> list[dict]:
    return [payload for header, payload in ingest.items if header.get("type") == "event"]


def test_a_route_that_raises_sends_one_scrubbed_event(settings: Settings, ingest: Ingest) -> None:
    dsn = f"http://publickey@127.0.0.1:{ingest.server_address[1]}/42"
    app = create_app(settings.model_copy(update={"sentry_dsn": dsn, "release": "r-2026.1",
                                                 "stack": "staging"}))

    @app.post("/api/test-boom")
    async def boom() -> None:
        raise RuntimeError(f"failed for {EMAIL} with Bearer {JWT}, key {API_KEY}, "
                           f"password={PASSWORD}, postgresql://miyabi_app:{PASSWORD}@db:5432/miyabi")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/api/test-boom", json={"email": EMAIL, "password": PASSWORD},
                             headers={"Authorization": f"Bearer {JWT}", "X-Api-Key": API_KEY,
                                      "Cookie": f"miyabi_refresh={JWT}"})
        assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
        request_id = answer.headers["x-request-id"]
        sentry_sdk.flush(timeout=5)
        deadline = time.monotonic() + 5
        while not _events(ingest) and time.monotonic() < deadline:
            time.sleep(0.05)

    events = _events(ingest)
    assert len(events) == 1, events
    event = events[0]
    assert event["release"] == "r-2026.1" and event["environment"] == "staging"
    assert event["tags"]["stack"] == "staging" and event["tags"]["request_id"] == request_id
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    sent = b"".join(ingest.raw).decode()
    for secret in (JWT, API_KEY, EMAIL, PASSWORD, "s3cr3tk3y"):
        assert secret not in sent
    assert REDACTED in event["exception"]["values"][-1]["value"]


def test_without_a_dsn_nothing_is_sent_and_the_sdk_stays_off(settings: Settings, ingest: Ingest) -> None:
    _tracking_off()
    app = create_app(settings)

    @app.get("/api/test-boom")
    async def boom() -> None:
        raise RuntimeError("no tracking here")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/test-boom").status_code == 500
    assert not sentry_sdk.get_client().is_active()
    assert ingest.raw == []


def test_scrub_text_leaves_ordinary_words() -> None:
    assert scrub_text("task 12 failed: timeout after 3 s") == "task 12 failed: timeout after 3 s"
    assert EMAIL not in scrub_text(f"mail to {EMAIL}")
