"""The one settings object, read from an environment mapping.

It lives in db/ because both the database code and the API read it, and db/ never imports
app/ (app may import db, never the reverse; tests/test_layering.py). `app.settings`
re-exports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from db.actionable import UsageError

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The local server's default worker processes: one per CPU this process may use, at most this
# many (each worker holds its own pool; ops/pipeline/local/connections.py keeps them in budget).
MOST_DEFAULT_WEB_WORKERS = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform has one), at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, usable or 1)


def default_web_workers() -> int:
    """One worker per usable CPU, capped at MOST_DEFAULT_WEB_WORKERS."""
    return min(usable_cpus(), MOST_DEFAULT_WEB_WORKERS)


class Settings(BaseSettings):
    """Everything configurable about Miyabi; each field names the variable that sets it."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    app_database_url: str | None = Field(None, validation_alias="MIYABI_APP_DATABASE_URL")
    home: Path = Field(REPOSITORY_ROOT / ".miyabi", validation_alias="MIYABI_HOME")
    stack: str = Field("local", validation_alias="MIYABI_STACK")
    port: int = Field(8000, ge=1, le=65535, validation_alias="MIYABI_PORT")
    db_port: int | None = Field(None, ge=1, le=65535, validation_alias="MIYABI_DB_PORT")
    db_name: str = Field("miyabi", validation_alias="MIYABI_DB_NAME")
    app_role: str = Field("miyabi_app", validation_alias="MIYABI_APP_ROLE")
    migrations_dir: Path = Field(REPOSITORY_ROOT / "db" / "migrations",
                                 validation_alias="MIYABI_MIGRATIONS_DIR")
    pool_min_size: int = Field(1, ge=0, validation_alias="MIYABI_POOL_MIN_SIZE")
    pool_max_size: int = Field(10, ge=1, validation_alias="MIYABI_POOL_MAX_SIZE")
    # Worker processes of the local stack's server, each with its own pool of pool_max_size.
    web_workers: int = Field(default_factory=default_web_workers, ge=1, le=64,
                             validation_alias="MIYABI_WEB_WORKERS")
    public_url: str = Field("http://127.0.0.1:8000", validation_alias="MIYABI_PUBLIC_URL")
    email_backend: str = Field("outbox", pattern="^(outbox|ses)$",
                               validation_alias="MIYABI_EMAIL_BACKEND")
    email_sender: str = Field("Miyabi <no-reply@miyabi.local>", validation_alias="MIYABI_EMAIL_SENDER")
    jwt_secret: str | None = Field(None, validation_alias="MIYABI_JWT_SECRET")
    jwt_secret_arn: str | None = Field(None, validation_alias="MIYABI_JWT_SECRET_ARN")
    access_token_minutes: int = Field(15, ge=1, le=120, validation_alias="MIYABI_ACCESS_TOKEN_MINUTES")
    refresh_token_days: int = Field(30, ge=1, validation_alias="MIYABI_REFRESH_TOKEN_DAYS")
    login_max_failures: int = Field(5, ge=1, validation_alias="MIYABI_LOGIN_MAX_FAILURES")
    login_window_seconds: int = Field(900, ge=1, validation_alias="MIYABI_LOGIN_WINDOW_SECONDS")
    release: str = Field("dev", validation_alias="MIYABI_RELEASE")
    backup_retention: int = Field(10, ge=1, validation_alias="MIYABI_BACKUP_RETENTION")
    log_json: bool = Field(False, validation_alias="MIYABI_LOG_JSON")
    # Unhandled errors go to Sentry when set (the `sentry` extra; app/errors_tracking.py).
    sentry_dsn: str | None = Field(None, validation_alias="SENTRY_DSN")
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias="MIYABI_MAX_BODY_BYTES")
    login_max_failures_per_client: int = Field(20, ge=1,
                                               validation_alias="MIYABI_LOGIN_MAX_FAILURES_PER_CLIENT")
    email_token_hours: int = Field(24, ge=1, le=168, validation_alias="MIYABI_EMAIL_TOKEN_HOURS")
    invitation_days: int = Field(7, ge=1, le=90, validation_alias="MIYABI_INVITATION_DAYS")
    email_max_per_address: int = Field(5, ge=1, validation_alias="MIYABI_EMAIL_MAX_PER_ADDRESS")
    email_max_per_caller: int = Field(20, ge=1, validation_alias="MIYABI_EMAIL_MAX_PER_CALLER")
    email_window_seconds: int = Field(3600, ge=1, validation_alias="MIYABI_EMAIL_WINDOW_SECONDS")
    pool_timeout_seconds: float = Field(10, gt=0, validation_alias="MIYABI_POOL_TIMEOUT_SECONDS")
    aws_region: str | None = Field(None, validation_alias="AWS_REGION")
    # Open event streams plus waiting long polls per user, counted across every process.
    events_max_per_user: int = Field(5, ge=1, le=100, validation_alias="MIYABI_EVENTS_MAX_PER_USER")
    # False where the runtime buffers whole responses (Lambda): /api/events/stream answers 404.
    events_stream: bool = Field(True, validation_alias="MIYABI_EVENTS_STREAM")
    # False behind RDS Proxy (Lambda), where LISTEN and session advisory locks pin connections:
    # waiting readers poll the feed every MIYABI_EVENTS_POLL_MS and hold lease rows instead.
    events_listen: bool = Field(True, validation_alias="MIYABI_EVENTS_LISTEN")
    events_poll_ms: int = Field(300, ge=50, le=5000, validation_alias="MIYABI_EVENTS_POLL_MS")
    # The API reaches PostgreSQL through RDS Proxy: no startup options, no prepared statements.
    db_proxy: bool = Field(False, validation_alias="MIYABI_DB_PROXY")
    # The web dashboard's static files, served at `/` (absent folder: no dashboard served).
    dashboard_dir: Path = Field(REPOSITORY_ROOT / "dashboard", validation_alias="MIYABI_DASHBOARD_DIR")

    # The Telegram bot (bot/): its credential to the API (`Authorization: Bot <secret>`; the state
    # folder's telegram-bot-secret locally), Telegram's token and webhook secret, where both APIs are.
    telegram_bot_secret: str | None = Field(None, validation_alias="MIYABI_TELEGRAM_BOT_SECRET")
    telegram_bot_secret_arn: str | None = Field(None, validation_alias="MIYABI_TELEGRAM_BOT_SECRET_ARN")
    telegram_bot_token: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_bot_token_arn: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN_ARN")
    telegram_webhook_secret: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_webhook_secret_arn: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET_ARN")
    telegram_api_url: str = Field("https://api.telegram.org", validation_alias="TELEGRAM_API_URL")
    telegram_link_code_minutes: int = Field(10, ge=1, le=60, validation_alias="MIYABI_TELEGRAM_LINK_MINUTES")
    # The API the bot calls (the stack's public URL when unset).
    api_url: str | None = Field(None, validation_alias="MIYABI_API_URL")

    # The platform's service objectives and the load test's shape (`invoke benchmark`).
    bench_users: int = Field(100, ge=1, validation_alias="MIYABI_BENCH_USERS")
    bench_spawn_rate: float = Field(10, gt=0, validation_alias="MIYABI_BENCH_SPAWN_RATE")
    bench_duration: str = Field("60s", pattern=r"^\d+[smh]$", validation_alias="MIYABI_BENCH_DURATION")
    bench_accounts: int = Field(5, ge=1, validation_alias="MIYABI_BENCH_ACCOUNT_COUNT")
    bench_p95_ms: float = Field(200, gt=0, validation_alias="MIYABI_BENCH_P95_MS")
    bench_p99_ms: float = Field(500, gt=0, validation_alias="MIYABI_BENCH_P99_MS")
    bench_max_failures: int = Field(0, ge=0, validation_alias="MIYABI_BENCH_MAX_FAILURES")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings passes counts: tests hand in a mapping instead of patching
        # os.environ, and nothing else reads the process environment behind their back.
        return (init_settings,)

    @property
    def state_dir(self) -> Path:
        return self.home

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"


def _aliases() -> set[str]:
    return {str(field.validation_alias) for field in Settings.model_fields.values()}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `env` (the process environment when omitted)."""
    source = os.environ if env is None else env
    known = _aliases()
    return Settings(**{key: value for key, value in source.items() if key in known and value != ""})


class BadSetting(UsageError):
    """A variable of the environment that does not validate; the message names each one."""

    def __init__(self, error: ValidationError) -> None:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        super().__init__(f"bad setting: {problems}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
