"""The web dashboard as files: its vendored modules and its identity in a release."""
