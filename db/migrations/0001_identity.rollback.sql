-- The miyabi_app role is cluster-wide and may serve other databases, so it stays.

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';
DROP TABLE login_attempts;
DROP TABLE email_tokens;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP PROCEDURE enable_tenant_isolation(regclass);
DROP FUNCTION set_updated_at();
REVOKE SELECT ON TABLE _yoyo_migration FROM miyabi_app;
REVOKE USAGE ON SCHEMA public FROM miyabi_app;
