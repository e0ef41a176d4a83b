"""Locked, hashed dependency files (requirements/*.txt) compiled from pyproject.toml."""
