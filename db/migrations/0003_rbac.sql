-- RBAC: the permission catalogue, built-in and custom roles per organization, member roles,
-- invitations and API keys.
-- depends: 0002_tenancy

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE TABLE permissions (
    name        text PRIMARY KEY,
    description text NOT NULL
);
INSERT INTO permissions (name, description) VALUES
    ('organization.manage', 'Rename or delete the organization'),
    ('team.manage',         'Create, rename and delete teams and change their members'),
    ('user.manage',         'Invite and remove members and change their roles'),
    ('agent.manage',        'Register, start and stop agents, and cancel any task'),
    ('role.manage',         'Create, change and delete custom roles'),
    ('audit.view',          'Read the audit log'),
    ('team.view',           'See members and teams'),
    ('agent.view',          'See agents and their status'),
    ('agent.use',           'Act as an agent: heartbeats and task progress'),
    ('task.create',         'Create tasks and change or cancel your own'),
    ('task.view',           'See tasks and their events');
GRANT SELECT ON permissions TO miyabi_app;

CREATE TABLE roles (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    is_builtin      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_org_id_key UNIQUE (organization_id, id),
    CONSTRAINT roles_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX roles_org_name_key ON roles (organization_id, lower(name));
CREATE TRIGGER roles_set_updated_at BEFORE UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE role_permissions (
    organization_id uuid NOT NULL,
    role_id         uuid NOT NULL,
    permission      text NOT NULL REFERENCES permissions (name),
    CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission),
    CONSTRAINT role_permissions_role_fkey FOREIGN KEY (organization_id, role_id)
        REFERENCES roles (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX role_permissions_org_idx ON role_permissions (organization_id);

CREATE TABLE member_roles (
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    role_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_roles_pkey PRIMARY KEY (organization_id, user_id, role_id),
    CONSTRAINT member_roles_membership_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE,
    CONSTRAINT member_roles_role_fkey FOREIGN KEY (organization_id, role_id)
        REFERENCES roles (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX member_roles_role_idx ON member_roles (organization_id, role_id);

CREATE TABLE invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    role_id         uuid NOT NULL,
    token_hash      bytea NOT NULL,
    invited_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    CONSTRAINT invitations_token_hash_key UNIQUE (token_hash),
    CONSTRAINT invitations_role_fkey FOREIGN KEY (organization_id, role_id)
        REFERENCES roles (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX invitations_org_idx ON invitations (organization_id, created_at);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL,
    name            text NOT NULL,
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL,
    legacy_id       bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    -- Removing a member stops their keys at once.
    CONSTRAINT api_keys_membership_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX api_keys_org_user_idx ON api_keys (organization_id, user_id);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);

CALL enable_tenant_isolation('roles');
CALL enable_tenant_isolation('role_permissions');
CALL enable_tenant_isolation('member_roles');
CALL enable_tenant_isolation('invitations');
CALL enable_tenant_isolation('api_keys');

-- Every organization starts with the built-in roles of the contract.
CREATE FUNCTION seed_builtin_roles() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    admin_id  uuid := gen_random_uuid();
    member_id uuid := gen_random_uuid();
    viewer_id uuid := gen_random_uuid();
BEGIN
    INSERT INTO roles (id, organization_id, name, description, is_builtin) VALUES
        (admin_id,  NEW.id, 'Admin',  'Everything in the organization', true),
        (member_id, NEW.id, 'Member', 'Use agents and create tasks', true),
        (viewer_id, NEW.id, 'Viewer', 'Read-only access', true);
    INSERT INTO role_permissions (organization_id, role_id, permission)
        SELECT NEW.id, admin_id, name FROM permissions
        UNION ALL
        SELECT NEW.id, member_id, unnest(ARRAY['team.view', 'agent.view', 'agent.use',
                                               'task.create', 'task.view'])
        UNION ALL
        SELECT NEW.id, viewer_id, unnest(ARRAY['team.view', 'agent.view', 'task.view']);
    RETURN NULL;
END
$$;
CREATE TRIGGER organizations_seed_builtin_roles AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION seed_builtin_roles();

-- Built-in roles are read-only, except while their organization itself is being deleted.
CREATE FUNCTION protect_builtin_roles() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    role_row roles;
BEGIN
    IF TG_TABLE_NAME = 'roles' THEN
        role_row := OLD;
    ELSE
        SELECT * INTO role_row FROM roles WHERE id = OLD.role_id;
    END IF;
    IF role_row.is_builtin AND EXISTS (SELECT 1 FROM organizations o
                                       WHERE o.id = OLD.organization_id) THEN
        RAISE EXCEPTION 'built-in role % is read-only', role_row.name
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'roles_builtin_read_only';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER roles_protect_builtin BEFORE UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION protect_builtin_roles();
CREATE TRIGGER role_permissions_protect_builtin BEFORE UPDATE OR DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION protect_builtin_roles();

-- An organization always keeps at least one Admin, unless it is being deleted.
CREATE FUNCTION keep_last_admin() RETURNS trigger
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
CREATE TRIGGER member_roles_keep_last_admin AFTER DELETE ON member_roles
    FOR EACH ROW EXECUTE FUNCTION keep_last_admin();

-- Credentials are presented before the organization is known, so these two look-ups run with
-- the owner's rights. They return only what the caller proves it holds (the hash of a secret).
CREATE FUNCTION authenticate_api_key(presented_hash bytea)
RETURNS TABLE (api_key_id uuid, organization_id uuid, user_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.id, k.organization_id, k.user_id
    FROM api_keys k JOIN users u ON u.id = k.user_id
    JOIN organizations o ON o.id = k.organization_id
    WHERE k.key_hash = presented_hash AND k.revoked_at IS NULL
      AND u.is_active AND o.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate_api_key(bytea) TO miyabi_app;

CREATE FUNCTION find_invitation(presented_hash bytea)
RETURNS TABLE (invitation_id uuid, organization_id uuid, email text, role_id uuid,
               expires_at timestamptz, accepted_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.id, i.organization_id, i.email, i.role_id, i.expires_at, i.accepted_at
    FROM invitations i JOIN organizations o ON o.id = i.organization_id
    WHERE i.token_hash = presented_hash AND o.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION find_invitation(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION find_invitation(bytea) TO miyabi_app;
