"""`invoke dashboard.vendor`: pinned npm packages into dashboard/vendor/, checked and recorded.

npm itself is replaced by a small script that packs a folder the test wrote (the real one asks
the registry): what is under test is what happens to the tarball npm hands back.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from ops.dashboard.vendor import MANIFEST, Pinned, VendorFailed, check, sha256, vendor

PREACT = Pinned("preact", "11.2.0", "MIT", {"dist/preact.mjs": "preact.js", "LICENSE": "LICENSE.preact.txt"})
HOOKS = Pinned("hooks", "1.0.0", "MIT", {"dist/hooks.mjs": "hooks.js"}, {'from"preact"': 'from"./preact.js"'})

FAKE_NPM = '''#!{python}
"""npm pack NAME@VERSION --json: packs {packages}/NAME (as the registry would hand it over)."""
import io, json, sys, tarfile
from pathlib import Path

name = sys.argv[2].rsplit("@", 1)[0]
source = Path({packages!r}) / name
if not source.is_dir():
    sys.exit(f"npm error 404 Not Found - GET https://registry/{{name}}")
filename = f"{{name}}.tgz"
with tarfile.open(filename, "w:gz") as tar:
    tar.add(source, arcname="package")
print(json.dumps([{{"filename": filename, "integrity": "sha512-test-" + name}}]))
'''


def package(root: Path, name: str, version: str, licence: str, files: dict[str, str]) -> None:
    folder = root / name
    for path, text in {**files, "package.json": json.dumps(
            {"name": name, "version": version, "license": licence})}.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


@pytest.fixture
def npm(tmp_path: Path) -> str:
    packages = tmp_path / "registry"
    package(packages, "preact", "11.2.0", "MIT", {"dist/preact.mjs": "export const h = 1;\n",
                                                  "LICENSE": "MIT licence text\n"})
    package(packages, "hooks", "1.0.0", "MIT",
            {"dist/hooks.mjs": 'import{options}from"preact";export const useState = 2;\n'})
    script = tmp_path / "npm"
    script.write_text(FAKE_NPM.format(python=sys.executable, packages=str(packages)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_vendor_copies_the_files_rewrites_the_bare_import_and_records_them(npm: str, tmp_path: Path) -> None:
    target = tmp_path / "vendor"
    manifest = vendor(target, npm, (PREACT, HOOKS))
    assert (target / "hooks.js").read_text() == (
        'import{options}from"./preact.js";export const useState = 2;\n')
    assert (target / "LICENSE.preact.txt").read_text() == "MIT licence text\n"
    assert json.loads((target / MANIFEST).read_text()) == manifest
    preact, hooks = manifest
    assert (preact["package"], preact["version"], preact["licence"], preact["integrity"]) == (
        "preact", "11.2.0", "MIT", "sha512-test-preact")
    assert hooks["files"] == [
        {"from": "dist/hooks.mjs", "to": "hooks.js", "sha256": sha256(target / "hooks.js")}]
    assert check(target) == []
    (target / "preact.js").write_text("export const h = 'edited by hand';\n")
    assert check(target) == ["preact.js"]


def test_a_package_that_is_not_what_the_pin_says_is_refused(npm: str, tmp_path: Path) -> None:
    relicensed = Pinned("preact", "11.2.0", "Apache-2.0", {"dist/preact.mjs": "preact.js"})
    with pytest.raises(VendorFailed, match="preact@11.2.0: the package says preact@11.2.0 under MIT, "
                                           "not Apache-2.0"):
        vendor(tmp_path / "vendor", npm, (relicensed,))
    assert not (tmp_path / "vendor" / MANIFEST).exists()


def test_npm_failing_names_the_package_and_npms_words(npm: str, tmp_path: Path) -> None:
    missing = Pinned("left-pad", "1.3.0", "WTFPL", {"index.js": "left-pad.js"})
    with pytest.raises(VendorFailed, match=r"`npm pack left-pad@1.3.0` failed: npm error 404"):
        vendor(tmp_path / "vendor", npm, (missing,))


def test_without_npm_the_install_command_is_named(tmp_path: Path) -> None:
    with pytest.raises(VendorFailed, match=r"apt-get install -y npm"):
        vendor(tmp_path / "vendor", str(tmp_path / "no-npm-here"))
