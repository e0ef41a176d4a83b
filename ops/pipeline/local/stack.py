"""What the pipeline reads on the local stack: its state folder, database, releases and server.

The commands and their steps (`local/target.py`) act through this; `invoke status` measures it
(`local/status.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import httpx

from app.settings import Settings, load_settings
from db import local
from ops.pipeline.context import RunContext
from ops.pipeline.errors import ReleaseNotFound, ServerFailed
from ops.pipeline.journal import FileStore, Journal
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Backups
from ops.pipeline.local.logs import read as read_logs
from ops.pipeline.local.releases import Release, Releases
from ops.pipeline.local.server import Server
from ops.pipeline.local.status import LocalStatus, measure
from ops.pipeline.stacks import LOCAL
from ops.pipeline.target import LogLine, VerifyInputs


class LocalStack:
    """The `local` stack of one state folder, as the pipeline finds it."""

    stack = LOCAL

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.settings: Settings = load_settings(self.env)
        home = self.settings.home
        self.journal = Journal(FileStore(home / "journal" / "local.jsonl"))
        self.releases = Releases(home / "releases")
        self.backups = Backups(home / "backups", self.settings.backup_retention)
        self.server = Server(home, self.settings.port, self._server_env(), self.settings.web_workers)
        self.pointer = home / "current"

    def admin_url(self) -> str:
        """The owner's URL of the stack's database (the embedded server started if need be)."""
        return local.admin_url(self.settings)

    def level(self) -> str:
        """The schema level the database is at."""
        return schema.level(self.admin_url(), self.migration_folders({}))

    def current(self) -> Release | None:
        """The release the `current` pointer names (None before the first deploy)."""
        text = self.pointer.read_text().strip() if self.pointer.exists() else ""
        return self.releases.get(text)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def outbox(self) -> Path:
        """The local API writes its mail here instead of sending it."""
        return self.settings.outbox_dir

    def status(self) -> LocalStatus:
        return measure(self)

    def verify_inputs(self, url: str | None = None, expected_level: str | None = None) -> VerifyInputs:
        return VerifyInputs(url or self.url, outbox=self.outbox, admin_url=self.admin_url(),
                            bot_key_file=self.settings.secrets_dir / "verify-bot-key",
                            expected_level=expected_level)

    def logs(self, since: timedelta, database: bool = False) -> Iterator[LogLine]:
        """The servers' log files (server-<release>.log), or postgres.log with `database`."""
        return read_logs(self.server.log_dir, since, database)

    def wait_ready(self, timeout: float = 30) -> None:
        """Return once the serving release answers ready; ServerFailed after `timeout` seconds."""
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{self.url}/api/health/ready", timeout=2)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.2)
        current = self.current()
        raise ServerFailed(current.id if current else "(none)", f"{self.url} not ready: {last}",
                           self.server.log_dir)

    def describe(self, context: RunContext) -> str:
        """One sentence on what serves after an undo (checked, not assumed)."""
        current = self.current()
        if current is None:
            return f"nothing serves; the schema is at {self.level()}."
        try:
            self.wait_ready(timeout=20)
            state = "serving and ready"
        except ServerFailed as error:
            state = f"serving but NOT ready ({error})"
        return f"release {current.id} is {state}; the schema is at {self.level()}."

    def release(self, release_id: str) -> Release:
        """Release `release_id`, or ReleaseNotFound naming the ones there are."""
        release = self.releases.get(release_id)
        if release is None:
            raise ReleaseNotFound(release_id, self.releases.ids())
        return release

    def migration_folders(self, context: RunContext) -> list[Path]:
        """The migrations of the releases a run touches, then this checkout's: the folders
        `schema` orders levels by and finds rollback files in."""
        ids = [context.get("release"), context.get("previous_release")]
        current = self.current()
        ids.append(current.id if current else None)
        found = [self.releases.get(i or "") for i in ids]
        return [r.migrations for r in found if r] + [self.settings.migrations_dir]

    def _server_env(self) -> dict[str, str]:
        return {**self.env, "MIYABI_HOME": str(self.settings.home),
                "MIYABI_PORT": str(self.settings.port), "MIYABI_STACK": self.stack,
                "MIYABI_PUBLIC_URL": f"http://127.0.0.1:{self.settings.port}"}
