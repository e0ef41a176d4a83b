-- The durable per-organization event feed behind real-time updates, and the append-only
-- audit log.
-- depends: 0004_work

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE TABLE events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type            text NOT NULL,
    data            jsonb NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_type_check
        CHECK (type IN ('task.created', 'task.updated', 'agent.updated'))
);
CREATE INDEX events_org_id_idx ON events (organization_id, id);
CALL enable_tenant_isolation('events');
-- Events are facts: the application adds and reads them, never rewrites them.
REVOKE UPDATE, DELETE ON events FROM miyabi_app;

-- Waiting readers LISTEN on 'miyabi_events'; the payload is '<organization id>:<event id>'.
-- A bulk import sets app.suppress_events to 'on' so history does not flood the feed.
CREATE FUNCTION publish_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    event_type text;
    event_id   bigint;
BEGIN
    IF current_setting('app.suppress_events', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'tasks' THEN
        event_type := CASE WHEN TG_OP = 'INSERT' THEN 'task.created' ELSE 'task.updated' END;
    ELSE
        -- Heartbeats alone are not news; a change of anything else is.
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_heartbeat' - 'updated_at')
                              = (to_jsonb(OLD) - 'last_heartbeat' - 'updated_at') THEN
            RETURN NULL;
        END IF;
        event_type := 'agent.updated';
    END IF;
    INSERT INTO events (organization_id, type, data)
        VALUES (NEW.organization_id, event_type, to_jsonb(NEW) - 'organization_id')
        RETURNING id INTO event_id;
    PERFORM pg_notify('miyabi_events', NEW.organization_id::text || ':' || event_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_publish_event AFTER INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION publish_event();
CREATE TRIGGER agents_publish_event AFTER INSERT OR UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION publish_event();

CREATE TABLE audit_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at               timestamptz NOT NULL DEFAULT now(),
    -- No foreign keys on the actor: the record outlives the user and the key.
    actor_user_id    uuid,
    actor_api_key_id uuid,
    action           text NOT NULL,
    target_type      text NOT NULL,
    target_id        text,
    request_id       text,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT audit_log_action_check CHECK (action ~ '^[a-z_]+\.[a-z_.]+$')
);
CREATE INDEX audit_log_org_id_idx ON audit_log (organization_id, id DESC);

-- Append-only: the application role may add and read entries, nothing else.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO PUBLIC
    USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY audit_log_append ON audit_log FOR INSERT TO PUBLIC
    WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
GRANT SELECT, INSERT ON audit_log TO miyabi_app;
