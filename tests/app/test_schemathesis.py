"""Schemathesis over the served /openapi.json: no 5xx anywhere, every error in the one shape, and
the answers conform to the document (status codes, content types, response schemas and headers).

Bounded for CI: a few derandomized examples per operation, as an Admin of a real organization
(so requests get past authentication and reach the routes), against one database per module.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import load_settings
from tests.app.conftest import JWT_SECRET, PASSWORD, outbox_token
from tests.conftest import _database_of, create_database, drop_database

EXAMPLES = 15
# The document says what the API answers: these stay at zero failures.
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance,
               response_headers_conformance]


@pytest.fixture(scope="module")
def served(pg_server, migrated_template, tmp_path_factory) -> Iterator[dict]:
    """A client of the app over a module-wide database, and an Admin's headers."""
    name = f"st_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name, template=migrated_template)
    database = _database_of(pg_server, name)
    config = load_settings({"MIYABI_HOME": str(tmp_path_factory.mktemp("st-home")),
                            "DATABASE_URL": database.admin_url, "MIYABI_APP_DATABASE_URL": database.app_url,
                            "MIYABI_JWT_SECRET": JWT_SECRET, "MIYABI_POOL_MAX_SIZE": "4"})
    app = create_app(config)
    with TestClient(app) as setup:
        setup.post("/api/auth/register", json={"email": "st@example.com", "password": PASSWORD, "name": "St"})
        setup.post("/api/auth/verify-email",
                   json={"token": outbox_token(config.outbox_dir, "st@example.com", "verify")})
        token = setup.post("/api/auth/login", json={"email": "st@example.com",
                                                    "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        org = setup.post("/api/organizations", json={"name": "St", "slug": "st"},
                         headers=headers).json()["id"]
        agent = setup.post("/api/agents", json={"slug": "w", "name": "W", "kind": "worker"},
                           headers={**headers, "X-Organization-Id": org})
        assert agent.status_code == 201
    with asgi.get_client(app) as session:
        yield {"session": session, "headers": {**headers, "X-Organization-Id": org}}
    drop_database(pg_server, name)


def served_schema() -> schemathesis.schemas.BaseSchema:
    """The /openapi.json an application serves, read at collection time without a database.

    (schemathesis.pytest.from_fixture would load it from the fixture, but fails on pytest 9.)
    """
    with tempfile.TemporaryDirectory() as home:
        nowhere = "postgresql://nobody@127.0.0.1:9/nowhere"  # a pool of 0 never connects
        app = create_app(load_settings({"MIYABI_HOME": home, "DATABASE_URL": nowhere,
                                        "MIYABI_APP_DATABASE_URL": nowhere, "MIYABI_POOL_MIN_SIZE": "0",
                                        "MIYABI_JWT_SECRET": JWT_SECRET}))
        loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The stream never ends by itself; its behaviour is tested in tests/app/routes/test_events.py.
    # Logout-all would end the Admin's session for every operation after it (tests/app/test_sessions.py).
    return loaded.exclude(path=["/api/events/stream", "/api/auth/logout-all"])


schema = served_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_one_error_shape(case, served):
    if case.path == "/api/events" and case.query:
        case.query["wait"] = 0  # long polls would make the run minutes long
    response = case.call(session=served["session"], headers=served["headers"])
    assert response.status_code < 500, (case.method, case.path, case.path_parameters, case.query,
                                        case.body, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "request_id"}, (case.method, case.path, body)
        assert set(body["error"]) == {"code", "message", "details"}, body
        assert [body["request_id"]] == response.headers["x-request-id"]  # header values are lists
    case.validate_response(response, checks=CONFORMANCE, headers=served["headers"])
