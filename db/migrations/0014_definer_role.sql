-- Production-parity roles. On Amazon RDS the database owner is no superuser and has no BYPASSRLS,
-- and FORCE ROW LEVEL SECURITY filters it like anyone else. Two NOLOGIN roles give exactly the
-- cross-organization reads that must exist, and nothing more:
--   miyabi_definer owns the SECURITY DEFINER look-ups (a credential's hash in, one row out); narrow
--                  SELECT policies TO miyabi_definer let it read only the tables those look-ups need.
--   miyabi_backup  reads every table for pg_dump (`pg_dump --role=miyabi_backup`); it writes nothing.
-- Roles are cluster-wide, so they are created once and kept by the rollback.
-- depends: 0013_own_roles

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'miyabi_definer') THEN
        CREATE ROLE miyabi_definer NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'miyabi_backup') THEN
        CREATE ROLE miyabi_backup NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

-- The owner (whoever runs the migrations) may hand functions to miyabi_definer and drop them later
-- (INHERIT: ownership checks), and may become miyabi_backup for a dump (SET only: it does not see
-- through the backup policies by itself).
GRANT miyabi_definer TO CURRENT_USER WITH INHERIT TRUE, SET TRUE;
GRANT miyabi_backup TO CURRENT_USER WITH INHERIT FALSE, SET TRUE;

-- A function's new owner needs CREATE on its schema, at every ALTER ... OWNER, pg_restore's too.
GRANT USAGE, CREATE ON SCHEMA public TO miyabi_definer;
GRANT USAGE ON SCHEMA public TO miyabi_backup;

-- Hands a look-up to miyabi_definer: only the API role may call it.
CREATE PROCEDURE own_by_definer(lookup regprocedure)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER FUNCTION %s OWNER TO miyabi_definer', lookup);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', lookup);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO miyabi_app', lookup);
END
$$;

-- Lets miyabi_definer read `target` whole (SELECT only); the look-ups filter by a secret's hash.
CREATE PROCEDURE allow_definer_lookup(target regclass)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT ON TABLE %s TO miyabi_definer', target);
    IF (SELECT relrowsecurity FROM pg_class WHERE oid = target) THEN
        EXECUTE format('CREATE POLICY definer_lookup ON %s FOR SELECT TO miyabi_definer USING (true)',
                       target);
    END IF;
END
$$;

-- Lets miyabi_backup read `target` whole, for pg_dump.
CREATE PROCEDURE allow_backup_read(target regclass)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT ON TABLE %s TO miyabi_backup', target);
    IF (SELECT relrowsecurity FROM pg_class WHERE oid = target) THEN
        EXECUTE format('CREATE POLICY backup_read ON %s FOR SELECT TO miyabi_backup USING (true)',
                       target);
    END IF;
END
$$;

CALL allow_definer_lookup('users');
CALL allow_definer_lookup('organizations');
CALL allow_definer_lookup('api_keys');
CALL allow_definer_lookup('invitations');
CALL own_by_definer('authenticate_api_key(bytea)');
CALL own_by_definer('find_invitation(bytea)');

DO $$
DECLARE
    target regclass;
BEGIN
    FOR target IN
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    LOOP
        CALL allow_backup_read(target);
    END LOOP;
END
$$;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO miyabi_backup;
-- Tables and sequences the owner makes later are readable for the dump too; a later table with
-- row-level security still needs its backup_read policy (enable_tenant_isolation adds it, and the
-- schema check names a table without one).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO miyabi_backup;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO miyabi_backup;

-- New tenant tables get the backup policy with their isolation, so none can be forgotten.
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
    CALL allow_backup_read(target);
END
$$;
