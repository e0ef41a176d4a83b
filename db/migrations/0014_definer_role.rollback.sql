-- The roles are cluster-wide and may serve other databases: they stay; this database forgets them.
SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE OR REPLACE PROCEDURE enable_tenant_isolation(target regclass)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s FOR ALL TO PUBLIC '
        'USING (organization_id = (SELECT nullif(current_setting(''app.org_id'', true), '''')::uuid)) '
        'WITH CHECK (organization_id = (SELECT nullif(current_setting(''app.org_id'', true), '''')::uuid))',
        target);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO miyabi_app', target);
END
$$;

ALTER FUNCTION authenticate_api_key(bytea) OWNER TO CURRENT_USER;
ALTER FUNCTION find_invitation(bytea) OWNER TO CURRENT_USER;

DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT p.polname, c.oid::regclass AS target FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        WHERE p.polname IN ('backup_read', 'definer_lookup')
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', found.polname, found.target);
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM miyabi_backup;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON SEQUENCES FROM miyabi_backup;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM miyabi_definer, miyabi_backup;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM miyabi_backup;
REVOKE ALL ON SCHEMA public FROM miyabi_definer, miyabi_backup;
DROP PROCEDURE allow_backup_read(regclass);
DROP PROCEDURE allow_definer_lookup(regclass);
DROP PROCEDURE own_by_definer(regprocedure);
REVOKE miyabi_definer FROM CURRENT_USER;
REVOKE miyabi_backup FROM CURRENT_USER;
