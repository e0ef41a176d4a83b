"""The OpenAPI document says what the API accepts and answers (no database needed).

- a 405 lists, in `Allow`, every method the path serves (Starlette's names one route's only);
- no header or query parameter is documented as accepting null (it cannot carry one);
- the formats the API checks are in the schemas: cursor, X-Organization-Id, Last-Event-ID;
- every operation that can answer 400 documents it, in the error shape.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from tests.app.conftest import JWT_SECRET

VERBS = ("get", "post", "put", "patch", "delete")
ANY_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def app() -> Iterator[FastAPI]:
    with tempfile.TemporaryDirectory() as home:
        nowhere = "postgresql://nobody@127.0.0.1:9/nowhere"  # a pool of 0 never connects
        yield create_app(load_settings({"MIYABI_HOME": home, "DATABASE_URL": nowhere,
                                        "MIYABI_APP_DATABASE_URL": nowhere, "MIYABI_POOL_MIN_SIZE": "0",
                                        "MIYABI_JWT_SECRET": JWT_SECRET}))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict:
    return TestClient(app).get("/openapi.json").json()


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in VERBS:
                yield method, path, operation


def test_a_405_allows_every_method_of_the_path(app: FastAPI, document: dict) -> None:
    client = TestClient(app)
    checked = 0
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item if method in VERBS}
        url = re.sub(r"\{[^}]+\}", ANY_ID, path)
        for method in sorted({v.upper() for v in VERBS} - documented):
            response = client.request(method, url)
            assert response.status_code == 405, (method, path, response.status_code)
            assert set(response.headers["allow"].split(", ")) == documented, (method, path)
            assert response.json()["error"]["code"] == "method_not_allowed"
            checked += 1
    assert checked > 100
    assert client.request("OPTIONS", "/api/tasks").headers["allow"] == "GET, POST"


def test_no_parameter_is_documented_as_null(document: dict) -> None:
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert {"type": "null"} not in parameter["schema"].get("anyOf", []), (method, path, parameter)


def test_checked_formats_are_documented(document: dict) -> None:
    parameters = {(p["in"], p["name"].lower()): p["schema"] for _, _, operation in operations(document)
                  for p in operation.get("parameters", [])}
    assert parameters[("query", "cursor")]["pattern"] == "^[A-Za-z0-9_-]*$"
    assert parameters[("query", "cursor")]["maxLength"] == 500
    assert parameters[("header", "x-organization-id")]["format"] == "uuid"
    assert parameters[("header", "last-event-id")] == {
        "type": "string", "pattern": "^[0-9]{1,18}$", "title": "Last-Event-Id",
        "description": "Digits: the id of the last event received"}


def test_the_answers_to_bad_input_are_documented(document: dict) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, operation in operations(document):
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        responses = operation["responses"]
        if "requestBody" in operation or "cursor" in names or "x-organization-id" in names:
            assert responses["400"]["content"]["application/json"]["schema"] == error, (method, path)
        assert responses["default"]["content"]["application/json"]["schema"] == error, (method, path)
    assert "invalid_link_code" in document["paths"]["/api/telegram/link"]["post"]["responses"]["400"][
        "description"]
