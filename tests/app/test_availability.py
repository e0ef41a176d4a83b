"""The database stops under a running API: answers stay fast, and the API recovers by itself.

The test stops and starts a PostgreSQL of its own (a dedicated embedded server in a temporary
folder), never the session's shared server.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings, load_settings
from db import local
from tests.app.conftest import JWT_SECRET

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_database() -> Iterator[Settings]:
    home = Path(tempfile.mkdtemp(prefix="miyabi-availability-"))
    settings = load_settings({"MIYABI_HOME": str(home), "MIYABI_JWT_SECRET": JWT_SECRET,
                              "MIYABI_POOL_MIN_SIZE": "2", "MIYABI_POOL_MAX_SIZE": "4",
                              "MIYABI_POOL_TIMEOUT_SECONDS": "5"})
    server = local.embedded_server(settings)
    server.start()
    local.migrate_to_code_level(settings)
    yield settings.model_copy(update={"app_database_url": local.app_url(settings)})
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


def _timed(client: TestClient, path: str, **kwargs) -> tuple[int, str, float]:  # noqa: ANN003
    started = time.monotonic()
    answer = client.get(path, **kwargs)
    code = answer.json().get("error", {}).get("code", "") if answer.status_code >= 400 else ""
    return answer.status_code, code, time.monotonic() - started


def test_a_stopped_database_answers_503_within_a_second_and_recovers_by_itself(own_database) -> None:
    server = local.embedded_server(own_database)
    with TestClient(create_app(own_database)) as client:
        assert client.get("/api/health/ready").status_code == 200
        assert client.get("/api/organizations").status_code == 401  # reached the database
        server.stop()
        try:
            answers = [_timed(client, "/api/organizations", headers={"Authorization": "Bearer mk_x"})
                       for _ in range(12)]
            # Every answer, the first ones (broken connections) and the later ones (no connection
            # left in the pool), is a 503 in the error shape within a second.
            assert {(status, code) for status, code, _ in answers} == {(503, "database_unavailable")}
            assert max(seconds for *_, seconds in answers) < 1.0, answers
            assert client.get("/api/health").status_code == 200
            status, code, seconds = _timed(client, "/api/health/ready")
            assert (status, code) == (503, "database_unavailable") and seconds < 1.0
        finally:
            server.start()
        started = time.monotonic()
        while client.get("/api/health/ready").status_code != 200:
            assert time.monotonic() - started < 5, "the API did not recover by itself"
            time.sleep(0.05)
        recovered = time.monotonic() - started
        assert recovered < 1.5, f"recovered after {recovered:.2f} s"
        assert client.get("/api/organizations",
                          headers={"Authorization": "Bearer mk_x"}).status_code == 401
