"""Fixtures of the legacy import tests: generated dirty files and a one-call import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.settings import REPOSITORY_ROOT
from db.legacy.generator import Generated, generate
from db.legacy.importer import ImportResult, import_legacy

MIGRATIONS = REPOSITORY_ROOT / "db" / "migrations"
# A fixed clock: which legacy sessions are live must not depend on when the tests run.
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def dirty_file(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("legacy") / "legacy.sqlite", tasks=600, seed=7)


def run_import(url: str, path: Path, slug: str = "acme", **options: object) -> ImportResult:
    return import_legacy(url, path, "Acme", slug, migrations_dir=MIGRATIONS, now=NOW, **options)
