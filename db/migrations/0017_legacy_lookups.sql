-- The legacy importer's two cross-organization questions (db/legacy/lookups.py). legacy_imports
-- and organizations are tenant tables under forced row-level security, and the importing owner
-- is no superuser: "was this file imported already, under which slug?" and "which organization
-- did the import into this slug create?" are asked before any organization can be named.
-- Each function answers only that, and only the owner may call them. It needs miyabi_definer
-- (0014_definer_role); it follows 0016 to keep the migrations one chain.
-- depends: 0016_credential_limits

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CALL allow_definer_lookup('legacy_imports');

CREATE FUNCTION legacy_import_of_source(source_sha256 text)
RETURNS TABLE (organization_id uuid, slug text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.organization_id, o.slug
    FROM legacy_imports i JOIN organizations o ON o.id = i.organization_id
    WHERE i.source_sha256 = legacy_import_of_source.source_sha256
$$;

CREATE FUNCTION legacy_import_of_slug(slug text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.organization_id
    FROM legacy_imports i JOIN organizations o ON o.id = i.organization_id
    WHERE o.slug = legacy_import_of_slug.slug
$$;

ALTER FUNCTION legacy_import_of_source(text) OWNER TO miyabi_definer;
ALTER FUNCTION legacy_import_of_slug(text) OWNER TO miyabi_definer;
REVOKE ALL ON FUNCTION legacy_import_of_source(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION legacy_import_of_slug(text) FROM PUBLIC;
-- The importer runs as the owner who applies the migrations; the API role has no use for them.
GRANT EXECUTE ON FUNCTION legacy_import_of_source(text) TO CURRENT_USER;
GRANT EXECUTE ON FUNCTION legacy_import_of_slug(text) TO CURRENT_USER;
