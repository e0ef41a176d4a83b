"""Releases: immutable folders holding the app code, migrations and dashboard of one commit.

A clean tree is taken with `git archive` of HEAD; a tree with uncommitted changes under
app/, db/ or dashboard/ is copied as it is and its commit marked `+dirty`, so what runs is always
what the manifest says. Each release serves its own copy of the dashboard (the settings' default
folder is the release's `dashboard/`), so a rollback brings back the dashboard with the API; the
manifest names it by the digest of its served files.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from db.migrate import expected_level
from ops.dashboard.files import dashboard_digest
from ops.pipeline.errors import SourceInvalid

REQUIRED = ("app", "db")
CONTENT = (*REQUIRED, "dashboard")
SERVE_SCRIPT = Path(__file__).with_name("serve.py")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass(frozen=True)
class Release:
    """One release folder and its manifest."""

    id: str
    commit: str
    created: str
    schema_level: str
    sha256: str
    path: Path
    dashboard: str = ""  # the dashboard_digest of its dashboard/ ("" for none)

    @property
    def migrations(self) -> Path:
        return self.path / "db" / "migrations"


def _git(source: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(source), *argv], capture_output=True, check=False)


def source_commit(source: Path) -> tuple[str, bool]:
    """HEAD's sha of `source` and whether app/, db/ or dashboard/ differ from it (or 'none', True)."""
    head = _git(source, "rev-parse", "HEAD")
    if head.returncode != 0:
        return "none", True
    dirty = _git(source, "status", "--porcelain", "--", *CONTENT).stdout.strip() != b""
    return head.stdout.decode().strip(), dirty


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "RELEASE.json"):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Releases:
    """The releases folder of the local stack."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def build(self, source: Path) -> Release:
        """Make a new release folder from `source` (a checkout holding app/ and db/)."""
        missing = [name for name in REQUIRED if not (source / name).is_dir()]
        if missing or not (source / "app" / "main.py").is_file():
            raise SourceInvalid(source, f"it has no {', '.join(missing) or 'app/main.py'}")
        commit, dirty = source_commit(source)
        stamp = datetime.now(UTC)
        release_id = f"{stamp:%Y%m%dT%H%M%S%f}"[:-3] + f"-{commit[:7]}"
        staging = self.folder / f".{release_id}.partial"
        staging.mkdir(parents=True)
        present = [name for name in CONTENT if (source / name).is_dir()]
        if dirty:
            for name in present:
                shutil.copytree(source / name, staging / name, ignore=_IGNORED)
        else:
            archive = _git(source, "archive", "--format=tar", commit, *present)
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(staging, filter="data")
        shutil.copy2(SERVE_SCRIPT, staging / "serve.py")
        release = Release(release_id, commit + ("+dirty" if dirty else ""),
                          stamp.isoformat(timespec="seconds"),
                          expected_level(staging / "db" / "migrations"), _tree_digest(staging),
                          self.folder / release_id,
                          dashboard_digest(staging / "dashboard") if (staging / "dashboard").is_dir() else "")
        manifest = {k: str(v) for k, v in asdict(release).items() if k != "path"}
        (staging / "RELEASE.json").write_text(json.dumps(manifest, indent=2))
        for path in staging.rglob("*"):
            if path.is_file():
                path.chmod(0o444)
        staging.rename(release.path)
        return release

    def get(self, release_id: str) -> Release | None:
        manifest = self.folder / release_id / "RELEASE.json"
        if not release_id or not manifest.is_file():
            return None
        return Release(**json.loads(manifest.read_text()), path=self.folder / release_id)

    def intact(self, release: Release) -> bool:
        """Whether the folder still holds exactly what was built."""
        return _tree_digest(release.path) == release.sha256

    def ids(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / "RELEASE.json").is_file())
