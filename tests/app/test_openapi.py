"""The served /openapi.json documents every endpoint and the bearer scheme."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.routes import ROUTERS

PUBLIC = {"/api/health", "/api/health/ready", "/api/auth/register", "/api/auth/verify-email",
          "/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/auth/forgot-password",
          "/api/auth/reset-password",
          # the browser session: the refresh token comes in its cookie, not as a bearer
          "/api/auth/session", "/api/auth/session/refresh"}
# the Telegram bot's own endpoints: its secret, not a person's bearer
BOT_ONLY = {"/api/telegram/link", "/api/telegram/subscriptions"}


def test_every_route_is_documented_with_security(client):
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]
        ["bearer"]["description"]}
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 29
    for route in routes:
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            if route.path_format in PUBLIC:
                assert "security" not in operation, route.path_format
            elif route.path_format in BOT_ONLY:
                assert operation["security"] == [{"bot": []}], (method, route.path_format)
            else:
                assert operation["security"] == [{"bearer": []}], (method, route.path_format)
