"""Smoke checks of a running Miyabi against any base URL (local or deployed)."""

from ops.verify.checks import Report, run_checks

__all__ = ["Report", "run_checks"]
