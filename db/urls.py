"""Database URLs: the forms yoyo and psycopg want, and a form safe to print."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def for_psycopg(url: str) -> str:
    """A libpq URL (drops a SQLAlchemy-style driver suffix)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def for_yoyo(url: str) -> str:
    """The URL with the psycopg 3 driver yoyo should use."""
    return "postgresql+psycopg://" + for_psycopg(url).partition("://")[2]


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
