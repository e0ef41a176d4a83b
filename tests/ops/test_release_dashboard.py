"""Each release carries its own dashboard: built in, named by a digest in its manifest and the
journal, and left as it was when a later release brings another (so a rollback brings it back)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ops.dashboard.files import dashboard_digest, shipped_files
from ops.dashboard.vendor import check
from ops.pipeline.local.releases import Releases
from ops.pipeline.local.target import LocalTarget
from tests.ops.conftest import make_source


def with_dashboard(root: Path, text: str) -> Path:
    source = make_source(root)
    (source / "dashboard" / "src").mkdir(parents=True)
    (source / "dashboard" / "index.html").write_text("<!doctype html><title>Miyabi</title>")
    (source / "dashboard" / "src" / "main.js").write_text(text)
    (source / "dashboard" / "VENDOR.md").write_text("not shipped")
    return source


def test_each_release_keeps_its_own_dashboard(tmp_path):
    releases = Releases(tmp_path / "releases")
    source = with_dashboard(tmp_path / "source", "export const version = 1;\n")
    first = releases.build(source)
    (source / "dashboard" / "src" / "main.js").write_text("export const version = 2;\n")
    second = releases.build(source)
    assert (first.path / "dashboard" / "src" / "main.js").read_text() == "export const version = 1;\n"
    assert (second.path / "dashboard" / "src" / "main.js").read_text() == "export const version = 2;\n"
    assert first.dashboard == dashboard_digest(first.path / "dashboard") != second.dashboard
    assert releases.get(first.id).dashboard == first.dashboard  # in the manifest
    assert releases.intact(first) and releases.intact(second)


def test_a_source_without_a_dashboard_still_builds(tmp_path):
    release = Releases(tmp_path / "releases").build(make_source(tmp_path / "source"))
    assert release.dashboard == "" and not (release.path / "dashboard").exists()


def test_the_journal_records_the_dashboard_of_each_build(stack_env, tmp_path):
    source = with_dashboard(tmp_path / "source", "export const version = 3;\n")
    built = LocalTarget(stack_env, source=source)._build({})
    assert built["dashboard"] == dashboard_digest(source / "dashboard")


def test_the_digest_names_the_served_files_only(tmp_path):
    folder = tmp_path / "d"
    shutil.copytree(with_dashboard(tmp_path / "s", "x\n") / "dashboard", folder)
    before = dashboard_digest(folder)
    (folder / "VENDOR.md").write_text("changed")
    (folder / ".hidden.js").write_text("changed")
    assert dashboard_digest(folder) == before
    assert [p.as_posix() for p in shipped_files(folder)] == ["index.html", "src/main.js"]
    (folder / "src" / "main.js").write_text("y\n")
    assert dashboard_digest(folder) != before


def test_the_vendored_modules_match_their_manifest():
    from app.settings import REPOSITORY_ROOT

    assert check(REPOSITORY_ROOT / "dashboard" / "vendor") == []
