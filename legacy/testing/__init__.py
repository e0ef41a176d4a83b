"""Test support for the legacy importer: the generator of dirty legacy files and the Python
oracle normalisers the set-wise path is checked against. Not used by the importer itself."""
