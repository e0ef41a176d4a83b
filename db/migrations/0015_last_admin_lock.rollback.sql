SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DROP TRIGGER memberships_revoke_invitations ON memberships;
DROP FUNCTION revoke_invitations_of_removed_member();
-- The rollback removes the column its migration added.
-- squawk-ignore ban-drop-column
ALTER TABLE invitations DROP COLUMN revoked_at;

CREATE OR REPLACE FUNCTION keep_last_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM roles r WHERE r.id = OLD.role_id AND r.is_builtin AND r.name = 'Admin')
       AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = OLD.organization_id)
       AND NOT EXISTS (SELECT 1 FROM member_roles mr
                       WHERE mr.organization_id = OLD.organization_id
                         AND mr.role_id = OLD.role_id) THEN
        RAISE EXCEPTION 'the last Admin of organization % cannot lose the role', OLD.organization_id
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'member_roles_last_admin';
    END IF;
    RETURN NULL;
END
$$;
