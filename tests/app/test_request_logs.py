"""One JSON log line per request (as on Lambda): request id, route, status, duration, organization."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"log_json": True})


@pytest.fixture
def log_lines(client) -> io.StringIO:  # noqa: ANN001
    stream = io.StringIO()
    logging.getLogger("miyabi.api").handlers[0].setStream(stream)
    return stream


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_each_request_logs_one_json_line_without_tokens(client, people, make_api_key, log_lines) -> None:
    key = make_api_key(people.admin, people.org_id)
    log_lines.seek(0)
    log_lines.truncate()
    answer = client.get("/api/tasks", headers=people.admin.headers(people.org_id))
    by_key = client.get(f"/api/organizations/{people.org_id}/me",
                        headers={"Authorization": f"Bearer {key}"})
    client.get("/api/tasks", headers={"Authorization": "Bearer mk_not-a-real-key-at-all"})
    lines = [line for line in _lines(log_lines) if "status" in line]
    assert [line["status"] for line in lines] == [answer.status_code, by_key.status_code, 401]
    first, second, third = lines
    assert first["request_id"] == answer.headers["x-request-id"]
    assert first["route"] == "/api/tasks" and first["path"] is None and first["method"] == "GET"
    assert first["organization_id"] == people.org_id and first["ms"] > 0
    assert second["route"] == "/api/organizations/{id}/me"  # the template, not the id
    assert third["organization_id"] is None
    text = log_lines.getvalue()
    for secret in (people.admin.access_token, key, "mk_not-a-real-key-at-all"):
        assert secret not in text


def test_an_unmatched_path_is_logged_as_the_path(client, log_lines) -> None:
    client.get("/api/no-such-thing")
    line = [line for line in _lines(log_lines) if "status" in line][-1]
    assert line["route"] is None and line["path"] == "/api/no-such-thing" and line["status"] == 404
