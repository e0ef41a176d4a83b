"""Which database a command talks to: DATABASE_URL, or the embedded server of the state folder."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from db.embedded import OWNER, EmbeddedPostgres, read_or_create_secret
from db.errors import DatabaseOwnedBySuperuser, DatabaseUnreachable
from db.settings import Settings
from db.urls import for_psycopg, redact, with_database


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server whose data lives in the state folder."""
    return EmbeddedPostgres(settings.home / "postgres", settings.secrets_dir, settings.db_port)


def app_role_password(settings: Settings) -> str:
    """The application role's password, generated into the state folder on first use."""
    return read_or_create_secret(settings.secrets_dir / "app-db-password")


def admin_url(settings: Settings) -> str:
    """The owner's URL: DATABASE_URL, else the embedded server (started and reused)."""
    if settings.database_url:
        return for_psycopg(settings.database_url)
    server = embedded_server(settings)
    server.start()
    ensure_database(server.url("postgres"), settings.db_name)
    _refuse_superuser_database(server.url("postgres"), settings)
    return server.url(settings.db_name)


def _refuse_superuser_database(maintenance_url: str, settings: Settings) -> None:
    with connect(maintenance_url) as conn:
        owner = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s",
                             (settings.db_name,)).fetchone()[0]
    if owner != OWNER:
        raise DatabaseOwnedBySuperuser(settings.db_name, owner, settings.home)


def app_url(settings: Settings) -> str:
    """The URL the API uses: the application role on the same database."""
    if settings.app_database_url:
        return for_psycopg(settings.app_database_url)
    if settings.database_url:
        raise DatabaseUnreachable(
            redact(settings.database_url),
            "MIYABI_APP_DATABASE_URL is not set; with DATABASE_URL, give the application "
            "role's URL too")
    server = embedded_server(settings)
    return server.url(settings.db_name, user=settings.app_role,
                      password=app_role_password(settings))


def provision_local_app_role(settings: Settings, url: str) -> None:
    """Give the app role its generated password, unless the settings name its own URL."""
    if not settings.app_database_url:
        provision_app_role(url, settings.app_role, app_role_password(settings))


def migrate_to_code_level(settings: Settings, progress: Callable[[str], None] | None = None) -> list[str]:
    """Apply pending migrations (then the schema check) and let the app role log in."""
    from db import migrate

    url = admin_url(settings)
    applied = migrate.apply(url, settings.migrations_dir, app_role=settings.app_role, progress=progress)
    provision_local_app_role(settings, url)
    return applied


def ensure_database(maintenance_url: str, name: str) -> None:
    """Create database `name` on the server of `maintenance_url` unless it exists."""
    with connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def provision_app_role(url: str, role: str, password: str) -> None:
    """Let the application role log in with `password` (the migrations create the role)."""
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("alter role {} login password {}").format(
            sql.Identifier(role), sql.Literal(password)))


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """A psycopg connection, or DatabaseUnreachable naming the (redacted) URL."""
    try:
        return psycopg.connect(for_psycopg(url), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise DatabaseUnreachable(redact(url), reason) from error


def server_url(url: str) -> str:
    """The maintenance database of the server `url` points at."""
    return with_database(url, "postgres")
