"""The Miyabi API: a compact FastAPI application on psycopg."""
