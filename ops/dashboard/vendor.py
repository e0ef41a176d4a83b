"""Preact and htm, vendored from their npm packages at pinned versions (no build step).

`vendor(target)` packs each pinned package with `npm pack`, checks its name, version and licence,
copies the ES modules the dashboard imports into `target` (rewriting the one bare import,
`from "preact"`, to the file beside it, since browsers resolve no bare names without an import
map), and records each file's sha256 with the tarball's integrity in `VENDOR.json`.
`check(target)` says whether the files still match that record.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from db.actionable import MiyabiError

MANIFEST = "VENDOR.json"


class VendorFailed(MiyabiError):
    """npm could not pack a pinned package, or it is not what the pin says."""


@dataclass(frozen=True)
class Pinned:
    name: str
    version: str
    licence: str
    files: dict[str, str]  # path in the package -> name in dashboard/vendor/
    rewrites: dict[str, str] = field(default_factory=dict)


PACKAGES = (
    Pinned("preact", "11.2.0", "MIT",
           {"dist/preact.mjs": "preact.js", "hooks/dist/hooks.mjs": "hooks.js",
            "LICENSE": "LICENSE.preact.txt"},
           {'from"preact"': 'from"./preact.js"'}),
    Pinned("htm", "3.1.1", "Apache-2.0", {"dist/htm.mjs": "htm.js", "LICENSE": "LICENSE.htm.txt"}),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pack(pin: Pinned, workdir: Path, npm: str) -> tuple[Path, dict]:
    spec = f"{pin.name}@{pin.version}"
    done = subprocess.run([npm, "pack", spec, "--json", "--silent"], cwd=workdir, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise VendorFailed(f"`npm pack {spec}` failed: {done.stderr.strip()[-300:]}")
    packed = json.loads(done.stdout)[0]
    unpacked = workdir / pin.name
    with tarfile.open(workdir / packed["filename"]) as tar:
        tar.extractall(unpacked, filter="data")
    return unpacked / "package", packed


def _vendor_one(pin: Pinned, workdir: Path, target: Path, npm: str) -> dict:
    package, packed = _pack(pin, workdir, npm)
    meta = json.loads((package / "package.json").read_text())
    if (meta.get("name"), meta.get("version"), meta.get("license")) != (pin.name, pin.version, pin.licence):
        raise VendorFailed(f"{pin.name}@{pin.version}: the package says {meta.get('name')}@"
                           f"{meta.get('version')} under {meta.get('license')}, not {pin.licence}")
    files = []
    for source, name in pin.files.items():
        text = (package / source).read_bytes()
        for old, new in pin.rewrites.items():
            if source.endswith(".mjs"):
                text = text.replace(old.encode(), new.encode())
        (target / name).write_bytes(text)
        files.append({"from": source, "to": name, "sha256": sha256(target / name)})
    return {"package": pin.name, "version": pin.version, "licence": pin.licence,
            "integrity": packed.get("integrity"), "files": files}


def vendor(target: Path, npm: str = "npm", packages: tuple[Pinned, ...] = PACKAGES) -> list[dict]:
    """Refresh `target` from the pinned packages; returns (and writes) the manifest."""
    if shutil.which(npm) is None:
        raise VendorFailed(f"{npm} is not installed (apt-get install -y npm)")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="miyabi-vendor-") as tmp:
        manifest = [_vendor_one(pin, Path(tmp), target, npm) for pin in packages]
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check(target: Path) -> list[str]:
    """The vendored files that differ from the manifest (none: all as recorded)."""
    manifest = json.loads((target / MANIFEST).read_text())
    return [entry["to"] for package in manifest for entry in package["files"]
            if not (target / entry["to"]).is_file() or sha256(target / entry["to"]) != entry["sha256"]]
