"""The database: embedded PostgreSQL default, yoyo migrations, schema checks, legacy import."""
