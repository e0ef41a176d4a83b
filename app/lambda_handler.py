"""AWS Lambda entry points: `handler` serves the API through Mangum; `migrate` applies the schema.

On AWS the infrastructure sets APP_DB_SECRET_ARN (the application role) and
MASTER_DB_SECRET_ARN (the owner, for migrations): Secrets Manager secrets holding JSON with
username, password, host, port and dbname. Without them (locally) the settings decide, as for
`invoke serve` and `invoke migrate`.

One Lambda instance serves one request at a time, so the API gets a pool of at most one
connection, opened on the first request and reused by every later invocation of the instance:
the application is built and its lifespan entered once, on the first request, on an event loop
that lives as long as the instance (Mangum's own lifespan handling would open and close the pool
on every invocation). Importing this module imports neither FastAPI nor the application: the
migrate function, which shares the module, never needs them, and the API function imports them
with its first request (benchmarks/cold_start.py measures both figures).
A long poll keeps the instance busy while it waits; the limit on a user's open readers
(`MIYABI_EVENTS_MAX_PER_USER`) is counted in the database, so it holds across instances.

The API reaches the database through RDS Proxy (`MIYABI_DB_HOST`, the proxy's endpoint, replaces
the secret's host); the migrate function keeps the secret's direct address (runbooks/
infrastructure.md says why). Behind the proxy, LISTEN and session-level advisory locks would pin
a database connection to each waiting instance, so a long poll here reads the feed every
`MIYABI_EVENTS_POLL_MS` in short transactions and counts its user's readers with lease rows
(`MIYABI_EVENTS_LISTEN=false`, app/realtime_polling.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from app.settings import Settings

# Names of environment variables (holding ARNs), not secrets.
APP_SECRET = "APP_DB_SECRET_ARN"  # noqa: S105
MASTER_SECRET = "MASTER_DB_SECRET_ARN"  # noqa: S105
# The API function's database host when it differs from the secret's: the RDS Proxy endpoint.
DB_HOST = "MIYABI_DB_HOST"


def read_secret(arn: str, region: str | None = None) -> dict[str, Any]:
    import boto3  # only on AWS: keeps the cold import of the API handler small

    answer = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=arn)
    return json.loads(answer["SecretString"])


def database_url(secret: Mapping[str, Any]) -> str:
    """A libpq URL from an RDS-style secret (TLS required unless the secret says `sslmode`)."""
    user, password = quote(str(secret["username"]), safe=""), quote(str(secret["password"]), safe="")
    return (f"postgresql://{user}:{password}@{secret['host']}:{secret.get('port', 5432)}/"
            f"{secret['dbname']}?sslmode={secret.get('sslmode', 'require')}")


def lambda_settings(env: Mapping[str, str]) -> Settings:
    """The settings of a Lambda instance: the app role from its secret, a pool of one, no SSE,
    no LISTEN (the long poll polls: RDS Proxy would pin a LISTEN connection per instance).

    Mangum buffers a whole response before returning it, so an event stream could never reach
    the client: `/api/events/stream` answers 404 there, pointing at the long poll.
    """
    from app.settings import load_settings

    # The pool's size is the infrastructure's to say (its connection budget counts it); one.
    values = {**env, "MIYABI_POOL_MIN_SIZE": "0",
              "MIYABI_POOL_MAX_SIZE": env.get("MIYABI_POOL_MAX_SIZE", "1"),
              "MIYABI_EVENTS_STREAM": "false", "MIYABI_EVENTS_LISTEN": "false",
              "MIYABI_LOG_JSON": env.get("MIYABI_LOG_JSON", "true")}
    if env.get(APP_SECRET):
        secret = read_secret(env[APP_SECRET], env.get("AWS_REGION"))
        if env.get(DB_HOST):
            secret = {**secret, "host": env[DB_HOST]}
            values["MIYABI_DB_PROXY"] = "true"
        values["MIYABI_APP_DATABASE_URL"] = database_url(secret)
    return load_settings(values)


class Instance:
    """The application of this Lambda instance, started once, on a loop kept across invocations."""

    def __init__(self, settings: Settings) -> None:
        import asyncio

        from mangum import Mangum

        from app.main import create_app

        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # Mangum runs each request on the current loop
        self.app = create_app(settings)
        self.lifespan: AbstractAsyncContextManager[Any] = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        self.mangum = Mangum(self.app, lifespan="off")

    def close(self) -> None:
        import asyncio

        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()
        asyncio.set_event_loop(None)


_instance: Instance | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The API Gateway (HTTP API v2) entry point."""
    global _instance
    if _instance is None:
        _instance = Instance(lambda_settings(os.environ))
    return _instance.mangum(event, context)


def shutdown() -> None:
    """Close this instance's application (tests; Lambda simply freezes the process)."""
    global _instance
    if _instance is not None:
        _instance.close()
        _instance = None


def migrate(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    """Bring the schema to the code's level (or back to `event["to"]`) as the owner.

    The pipeline invokes it with `{"miyabi": "migrate"}` or `{"miyabi": "migrate", "to": LEVEL}`
    and reads `{"applied" | "rolled_back": [...], "level": ..., "level_before": ...}` back (a
    deploy rolls the schema back to `level_before`).
    """
    from app.errors_tracking import init_error_tracking
    from app.settings import load_settings
    from db import local
    from db.migrate import apply, current_level, rollback

    env = os.environ
    settings = load_settings(env)
    init_error_tracking(settings, "migrate")
    app_secret = read_secret(env[APP_SECRET], env.get("AWS_REGION")) if env.get(APP_SECRET) else None
    if env.get(MASTER_SECRET):
        # RDS's managed master secret holds only the credentials; the address is the app secret's.
        master = read_secret(env[MASTER_SECRET], env.get("AWS_REGION"))
        owner_url = database_url({**(app_secret or {}), **master})
    else:
        owner_url = local.admin_url(settings)
    target = (event or {}).get("to")
    before = current_level(owner_url, settings.migrations_dir)
    if target:
        undone = rollback(owner_url, settings.migrations_dir, to=str(target))
        return {"rolled_back": undone, "level": current_level(owner_url, settings.migrations_dir),
                "level_before": before}
    applied = apply(owner_url, settings.migrations_dir, app_role=settings.app_role)
    if app_secret is not None:
        local.provision_app_role(owner_url, app_secret["username"], app_secret["password"])
    else:
        local.provision_local_app_role(settings, owner_url)
    return {"applied": applied, "level": current_level(owner_url, settings.migrations_dir),
            "level_before": before}
