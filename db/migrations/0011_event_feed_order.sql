-- The event feed in commit order: every writer of tasks or agents takes the organization's feed
-- lock before its event gets an id, so inside one organization events commit in id order and a
-- reader resuming with `after=<last id>` never skips one. The API takes the same lock before its
-- first write (which keeps it free of deadlocks); this makes every other writer safe too.
-- depends: 0010_legacy_import

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE OR REPLACE FUNCTION publish_event() RETURNS trigger
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
    PERFORM pg_advisory_xact_lock(hashtextextended('miyabi_events:' || NEW.organization_id::text, 0));
    INSERT INTO events (organization_id, type, data)
        VALUES (NEW.organization_id, event_type, to_jsonb(NEW) - 'organization_id')
        RETURNING id INTO event_id;
    PERFORM pg_notify('miyabi_events', NEW.organization_id::text || ':' || event_id);
    RETURN NULL;
END
$$;
