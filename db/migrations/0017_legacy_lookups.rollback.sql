SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DROP FUNCTION legacy_import_of_slug(text);
DROP FUNCTION legacy_import_of_source(text);
DROP POLICY definer_lookup ON legacy_imports;
REVOKE SELECT ON TABLE legacy_imports FROM miyabi_definer;
