"""The Lambda entry points, in-process against the embedded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest
from moto import mock_aws

from app import lambda_handler
from app.settings import REPOSITORY_ROOT
from tests.app.conftest import JWT_SECRET, PASSWORD, outbox_token


def v2_event(method: str, path: str, body: dict | None = None, headers: dict | None = None,
             query: str = "") -> dict:
    """An API Gateway HTTP API (payload format 2.0) event."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "api.example.com", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "pytest"}},
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }


CONTEXT = SimpleNamespace(function_name="miyabi-api", aws_request_id="req-1")


def call(method: str, path: str, body: dict | None = None, **kwargs) -> tuple[int, dict, dict]:
    answer = lambda_handler.handler(v2_event(method, path, body, **kwargs), CONTEXT)
    return answer["statusCode"], answer["headers"], json.loads(answer["body"]) if answer["body"] else None


def test_cold_import_time():
    # CPU time, like benchmarks/cold_start.py: the wall clock also counts the other pytest -n
    # worker and whatever else shares the machine. Without the coverage tracer that
    # `pytest --cov` hands to child processes.
    code = ("import time; t = time.process_time(); import app.lambda_handler; "
            "print(f'{time.process_time() - t:.3f}')")
    untraced = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    seconds = float(subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY_ROOT, check=True,
                                   capture_output=True, text=True, env=untraced).stdout)
    print(f"\ncold import of app.lambda_handler: {seconds:.3f} s of CPU")
    assert seconds < 5


@pytest.fixture
def lambda_env(monkeypatch, database, tmp_path):
    """The Lambda's environment: the app role's credentials in a (moto) Secrets Manager secret."""
    app = urlsplit(database.app_url)
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="miyabi/app-db", SecretString=json.dumps({
                "username": app.username, "password": app.password, "host": app.hostname,
                "port": app.port, "dbname": app.path.lstrip("/"), "sslmode": "disable"}))["ARN"]
        for name, value in {"APP_DB_SECRET_ARN": arn, "AWS_REGION": "eu-west-1", "MIYABI_HOME": str(tmp_path),
                            "MIYABI_JWT_SECRET": JWT_SECRET, "MIYABI_LOG_JSON": "false"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("MIYABI_APP_DATABASE_URL", raising=False)
        yield
    lambda_handler.shutdown()


def test_handler_answers_http_api_v2_events_reusing_one_connection(lambda_env, tmp_path):
    started = time.perf_counter()
    status, headers, body = call("GET", "/api/health/ready")
    print(f"\nfirst invocation (instance start): {time.perf_counter() - started:.3f} s")
    assert status == 200 and body["status"] == "ready" and headers["x-request-id"]
    email = "lambda@example.com"
    status, _, body = call("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "L"})
    assert status == 201, body
    status, _, body = call("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    status, _, me = call("GET", "/api/auth/me", headers={"authorization": f"Bearer {body['access_token']}"})
    assert status == 200 and me["email"] == email
    status, _, error = call("GET", "/api/tasks", query="status=nope",
                            headers={"authorization": f"Bearer {body['access_token']}"})
    assert status == 400 and set(error) == {"error", "request_id"}
    pool = lambda_handler._instance.app.state.pool
    stats = pool.get_stats()
    assert pool.max_size == 1 and stats["connections_num"] == 1, stats


def test_migrate_applies_and_reports_the_level(monkeypatch, empty_database, tmp_path):
    monkeypatch.setenv("DATABASE_URL", empty_database.admin_url)
    monkeypatch.setenv("MIYABI_APP_DATABASE_URL", empty_database.app_url)
    monkeypatch.setenv("MIYABI_HOME", str(tmp_path))
    monkeypatch.delenv("MASTER_DB_SECRET_ARN", raising=False)
    monkeypatch.delenv("APP_DB_SECRET_ARN", raising=False)
    first = lambda_handler.migrate({}, CONTEXT)
    assert first["applied"] and first["level"] == first["applied"][-1]
    assert first["level_before"] == "base"  # a deploy rolls the schema back to it (ops.pipeline.aws)
    assert lambda_handler.migrate({}, CONTEXT) == {"applied": [], "level": first["level"],
                                                   "level_before": first["level"]}


def test_migrate_on_aws_uses_the_master_secret_at_the_app_secrets_address(monkeypatch, empty_database,
                                                                          tmp_path):
    owner, app = urlsplit(empty_database.admin_url), urlsplit(empty_database.app_url)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="eu-west-1")
        # RDS's managed master secret carries only the credentials.
        master = secrets.create_secret(Name="rds!db-master", SecretString=json.dumps({
            "username": owner.username, "password": owner.password}))["ARN"]
        app_arn = secrets.create_secret(Name="miyabi/app-db", SecretString=json.dumps({
            # The same password the other tests use: the role is shared by the whole server.
            "username": "miyabi_app", "password": app.password, "host": app.hostname,
            "port": app.port, "dbname": app.path.lstrip("/"), "sslmode": "disable"}))["ARN"]
        for name, value in {"MASTER_DB_SECRET_ARN": master, "APP_DB_SECRET_ARN": app_arn,
                            "AWS_REGION": "eu-west-1", "MIYABI_HOME": str(tmp_path)}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("MIYABI_APP_DATABASE_URL", raising=False)
        applied = lambda_handler.migrate({"miyabi": "migrate"}, CONTEXT)
        levels = applied["applied"]
        back = lambda_handler.migrate({"miyabi": "migrate", "to": levels[-2]}, CONTEXT)
    assert back == {"rolled_back": [levels[-1]], "level": levels[-2], "level_before": levels[-1]}


def test_event_stream_answers_404_on_lambda_pointing_at_the_long_poll(lambda_env):
    """Mangum buffers a whole response: a stream would never reach the client, so none is served."""
    email = "stream@example.com"
    assert call("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "S"})[0] == 201
    _, _, tokens = call("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    started = time.perf_counter()
    for headers in ({}, {"authorization": f"Bearer {tokens['access_token']}"}):
        status, _, body = call("GET", "/api/events/stream", headers=headers)
        assert status == 404 and set(body) == {"error", "request_id"}
        assert body["error"]["code"] == "stream_unavailable"
        assert "GET /api/events?after=" in body["error"]["message"] and "wait=" in body["error"]["message"]
    assert time.perf_counter() - started < 5  # answered at once, not held open
    _, _, openapi = call("GET", "/openapi.json")
    stream = openapi["paths"]["/api/events/stream"]["get"]
    assert "Lambda" in stream["description"] and "/api/events?after=" in stream["description"]
    assert "404" in stream["responses"] and "429" in stream["responses"]


def test_long_polls_on_lambda_wait_and_free_their_slot_before_answering(lambda_env, monkeypatch, tmp_path,
                                                                       database):
    """The event loop stops with each answer: a slot freed later would stay taken meanwhile."""
    monkeypatch.setenv("MIYABI_EVENTS_MAX_PER_USER", "1")
    email = "poller@example.com"
    assert call("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "P"})[0] == 201
    token = outbox_token(tmp_path / "outbox", email, "verify")
    assert call("POST", "/api/auth/verify-email", {"token": token})[0] == 200
    access = call("POST", "/api/auth/login", {"email": email, "password": PASSWORD})[2]["access_token"]
    auth = {"authorization": f"Bearer {access}"}
    status, _, org = call("POST", "/api/organizations", {"name": "Polls", "slug": "polls"}, headers=auth)
    assert status == 201, org
    for _ in range(2):  # with one slot, the second poll waits only if the first freed it
        started = time.perf_counter()
        status, _, page = call("GET", "/api/events", query="wait=0.5",
                               headers={**auth, "x-organization-id": org["id"]})
        assert (status, page) == (200, {"items": [], "next_cursor": None})
        assert 0.4 < time.perf_counter() - started < 5
        with psycopg.connect(database.admin_url) as conn:  # what another instance would find
            held = conn.execute("select count(*) from pg_locks where locktype = 'advisory' and database "
                                "= (select oid from pg_database where datname = current_database())")
            assert held.fetchone()[0] == 0
