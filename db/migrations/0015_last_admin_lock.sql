-- Races and revocation around who may grant what:
-- * keep_last_admin locks the organization's Admin role before counting what is left, so two
--   Admins removing each other at once queue up and the second sees the first's removal;
-- * an invitation can be revoked (revoked_at), and removing a member revokes the pending
--   invitations they sent: nobody joins on the word of someone no longer there.
-- depends: 0014_definer_role

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

-- Under READ COMMITTED each statement of this (volatile) function takes a fresh snapshot, so
-- once the lock is ours every Admin removal committed before us is visible to the re-check.
CREATE OR REPLACE FUNCTION keep_last_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM roles r
    WHERE r.organization_id = OLD.organization_id AND r.id = OLD.role_id
      AND r.is_builtin AND r.name = 'Admin'
    FOR NO KEY UPDATE;
    IF FOUND
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

ALTER TABLE invitations ADD COLUMN revoked_at timestamptz;

CREATE FUNCTION revoke_invitations_of_removed_member() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE invitations SET revoked_at = now()
    WHERE organization_id = OLD.organization_id AND invited_by = OLD.user_id
      AND accepted_at IS NULL AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_revoke_invitations AFTER DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION revoke_invitations_of_removed_member();
