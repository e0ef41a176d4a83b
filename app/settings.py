"""The one settings object: defined in db.settings (db/ never imports app/), re-exported here."""

from db.settings import REPOSITORY_ROOT, Settings, get_settings, load_settings

__all__ = ["REPOSITORY_ROOT", "Settings", "get_settings", "load_settings"]
