-- Identity: people, their sessions (refresh-token families), e-mail tokens, login attempts.
-- These tables are global (not an organization's data), so they carry no organization_id and
-- no tenant policy; the application reaches them only through its own queries.

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

-- The API's role gets its attributes at creation: the owner (RDS's master user shape) may not
-- ALTER a role's SUPERUSER or BYPASSRLS. A role found already made elsewhere is left as it is;
-- the schema check after every apply refuses one that is superuser or bypasses RLS.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'miyabi_app') THEN
        CREATE ROLE miyabi_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO miyabi_app;
-- The readiness probe compares the applied level with the code's.
GRANT SELECT ON TABLE _yoyo_migration TO miyabi_app;

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Every table holding an organization's data goes through this, so none can be forgotten:
-- RLS enabled and forced (owners too), one policy keyed on the transaction-local setting.
CREATE PROCEDURE enable_tenant_isolation(target regclass)
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

CREATE TABLE users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL,
    name              text NOT NULL DEFAULT '',
    password_hash     text,
    email_verified_at timestamptz,
    telegram_id       bigint,
    is_active         boolean NOT NULL DEFAULT true,
    legacy_id         bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_shape_check CHECK (email = btrim(email) AND email LIKE '_%@_%'),
    CONSTRAINT users_name_length_check CHECK (char_length(name) <= 200)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_telegram_id_key ON users (telegram_id) WHERE telegram_id IS NOT NULL;
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL,
    source      text NOT NULL DEFAULT 'login',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_source_check CHECK (source IN ('login', 'legacy'))
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE email_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT email_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'))
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id);

-- Failed logins, kept in the database so the limit holds across API instances.
CREATE TABLE login_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL,
    client_addr text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_at_idx ON login_attempts (lower(email), at);
CREATE INDEX login_attempts_client_at_idx ON login_attempts (client_addr, at);

GRANT SELECT, INSERT, UPDATE, DELETE ON users, refresh_tokens, email_tokens, login_attempts
    TO miyabi_app;
