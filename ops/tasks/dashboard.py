"""`dashboard.*` tasks: the web dashboard's vendored modules."""

from __future__ import annotations

from invoke import Collection, Context, task

from app.settings import REPOSITORY_ROOT
from ops.dashboard.vendor import PACKAGES, vendor
from ops.tasks.common import console, run

VENDOR_DIR = REPOSITORY_ROOT / "dashboard" / "vendor"


@task(name="vendor", help={"npm": "the npm executable (default: npm on PATH)"})
def vendor_task(c: Context, npm: str = "npm") -> None:
    """Refresh dashboard/vendor/ from the pinned npm packages (preact, htm) and record their sha256."""
    manifest = run(lambda: vendor(VENDOR_DIR, npm))
    for package in manifest:
        console.print(f"{package['package']}@{package['version']} ({package['licence']}): "
                      + ", ".join(f"{f['to']} {f['sha256'][:12]}" for f in package["files"]))
    console.print(f"pins live in ops/dashboard/vendor.py ({', '.join(p.name for p in PACKAGES)})")


ns = Collection("dashboard")
ns.add_task(vendor_task)
