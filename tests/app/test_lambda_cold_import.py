"""The Lambda API handler's cold import stays small: nothing only some requests need.

Lambda runs the import in every new instance's init phase, before the first request; the AWS
SDK (read_secret, only on AWS) and the migration tooling (the migrate function, /api/health/ready
reads the level) are imported on first use, and the application itself with the API's first
event. Checked in a fresh interpreter, not by timing (benchmarks/cold_start.py times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

from app.settings import REPOSITORY_ROOT

LAZY = ("boto3", "botocore", "sentry_sdk", "yoyo")


def test_importing_the_handler_imports_no_aws_sdk_nor_migration_tooling() -> None:
    probe = ("import json, sys, app.lambda_handler; "
             f"print(json.dumps([m for m in {LAZY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY_ROOT, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_probe_sees_an_import_when_there_is_one() -> None:
    probe = "import json, sys, boto3; print(json.dumps('boto3' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY_ROOT, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) is True


def test_importing_the_handler_builds_no_application():
    """The migrate function shares the module: FastAPI and the routes wait for the API's first event."""
    probe = ("import json, sys, app.lambda_handler; "
             "print(json.dumps([m for m in ('fastapi', 'app.main', 'psycopg') if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY_ROOT, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []
