"""The legacy SQLite importer: read, normalise, copy, account, verify and undo."""
