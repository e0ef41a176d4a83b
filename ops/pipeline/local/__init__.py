"""The local target: the embedded PostgreSQL, release folders and a background uvicorn."""
