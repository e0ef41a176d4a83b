"""Smoke checks of a running Miyabi against any base URL (local or deployed)."""

from ops.verify.checks import Report, run_checks
from ops.verify.errors import CheckFailed

__all__ = ["CheckFailed", "Report", "run_checks"]
