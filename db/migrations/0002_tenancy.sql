-- Tenancy: organizations, their members and teams.
-- depends: 0001_identity

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    slug        text NOT NULL,
    legacy_source text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT organizations_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    CONSTRAINT organizations_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200)
);
CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_pkey PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE teams (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teams_org_id_key UNIQUE (organization_id, id),
    CONSTRAINT teams_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200)
);
CREATE UNIQUE INDEX teams_org_name_key ON teams (organization_id, lower(name));
CREATE TRIGGER teams_set_updated_at BEFORE UPDATE ON teams
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE team_members (
    organization_id uuid NOT NULL,
    team_id         uuid NOT NULL,
    user_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT team_members_pkey PRIMARY KEY (team_id, user_id),
    CONSTRAINT team_members_team_fkey FOREIGN KEY (organization_id, team_id)
        REFERENCES teams (organization_id, id) ON DELETE CASCADE,
    -- A team member must be a member of the team's organization.
    CONSTRAINT team_members_membership_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_org_user_idx ON team_members (organization_id, user_id);

-- An organization is visible inside its own context, and to its members when they list
-- their organizations (no organization chosen yet); it can be changed only in its context.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_in_context ON organizations FOR ALL TO PUBLIC
    USING (id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
    WITH CHECK (id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY organizations_of_member ON organizations FOR SELECT TO PUBLIC
    USING (id IN (SELECT m.organization_id FROM memberships m
                  WHERE m.user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations TO miyabi_app;

CALL enable_tenant_isolation('memberships');
-- A person may read their own memberships in every organization (to list them).
CREATE POLICY memberships_own ON memberships FOR SELECT TO PUBLIC
    USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));

CALL enable_tenant_isolation('teams');
CALL enable_tenant_isolation('team_members');
