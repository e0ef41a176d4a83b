-- The Telegram bot on the API: a chat linked to a person in an organization acts as that person.
-- telegram_chats (0010, filled by the legacy import) is the link: (organization, chat) → person.
-- It gains the person's session generation at linking (logging out everywhere or a password
-- reset ends the link; so does disabling the person, noted in users.disabled_at), notifications
-- on/off, the last event delivered to the chat (so a restart of the bot neither loses nor repeats
-- one) and which organization is current.
-- One-time link codes are stored only as SHA-256, valid minutes, spent by an atomic UPDATE.
-- Three look-ups cross organizations (a chat id or a code's hash in, its links out); they belong to
-- miyabi_definer (0014_definer_role) and only the API role may call them.
-- depends: 0017_legacy_lookups

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

ALTER TABLE telegram_chats
    ADD COLUMN session_generation integer,
    ADD COLUMN notify boolean NOT NULL DEFAULT true,
    ADD COLUMN last_event_id bigint,
    ADD COLUMN linked_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN selected_at timestamptz;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX telegram_chats_chat_idx ON telegram_chats (chat_id);

-- When a person was last disabled: their chat links from before stay ended once re-enabled.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
CREATE FUNCTION users_note_disabled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.disabled_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER users_note_disabled BEFORE UPDATE OF is_active ON users
    FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
    EXECUTE FUNCTION users_note_disabled();

-- A new link (or an imported chat) starts at the person's current session and at the newest
-- event of its organization: it is not sent the organization's history.
CREATE FUNCTION telegram_chats_fill_in() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.session_generation IS NULL AND NEW.user_id IS NOT NULL THEN
        NEW.session_generation := (SELECT session_generation FROM users WHERE id = NEW.user_id);
    END IF;
    IF NEW.last_event_id IS NULL THEN
        NEW.last_event_id := coalesce(
            (SELECT max(id) FROM events WHERE organization_id = NEW.organization_id), 0);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER telegram_chats_fill_in BEFORE INSERT ON telegram_chats
    FOR EACH ROW EXECUTE FUNCTION telegram_chats_fill_in();

-- Removing a person from an organization ends their chat links there. (A trigger, not a foreign
-- key: the legacy import may keep a chat of a person who got no membership; the look-up below
-- ignores such a chat.)
CREATE FUNCTION memberships_end_telegram_links() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM telegram_chats WHERE organization_id = OLD.organization_id AND user_id = OLD.user_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER memberships_end_telegram_links AFTER DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_end_telegram_links();

-- Chats imported before this migration: linked at their person's current session, and delivered
-- up to now. Row-level security filters the owner too, so each organization is set in turn.
CALL allow_definer_lookup('telegram_chats');
DO $$
DECLARE
    org uuid;
BEGIN
    FOR org IN SELECT DISTINCT organization_id FROM telegram_chats LOOP
        PERFORM set_config('app.org_id', org::text, true);
        UPDATE telegram_chats t
        SET session_generation = (SELECT u.session_generation FROM users u WHERE u.id = t.user_id),
            last_event_id = coalesce((SELECT max(e.id) FROM events e WHERE e.organization_id = org), 0)
        WHERE t.organization_id = org;
    END LOOP;
    PERFORM set_config('app.org_id', '', true);
END
$$;

CREATE TABLE telegram_link_codes (
    code_hash          bytea NOT NULL,
    organization_id    uuid NOT NULL,
    user_id            uuid NOT NULL,
    session_generation integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    used_at            timestamptz,
    used_by_chat       bigint,
    CONSTRAINT telegram_link_codes_pkey PRIMARY KEY (code_hash),
    CONSTRAINT telegram_link_codes_membership_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX telegram_link_codes_org_user_idx ON telegram_link_codes (organization_id, user_id, created_at);
CALL enable_tenant_isolation('telegram_link_codes');
CALL allow_definer_lookup('telegram_link_codes');

-- Every /link attempt of a chat, whatever its outcome, so guessing codes is slow across instances.
-- Global like login_attempts: the chat names no organization yet.
CREATE TABLE telegram_link_attempts (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id  bigint NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_link_attempts_chat_at_idx ON telegram_link_attempts (chat_id, at);
GRANT SELECT, INSERT, DELETE ON telegram_link_attempts TO miyabi_app;

CALL allow_definer_lookup('memberships');

-- The live links of a chat: a live organization, an active member, the session it was linked in.
-- The current one (chosen last with /org, else linked last) first.
CREATE FUNCTION telegram_chat_links(chat bigint)
RETURNS TABLE (organization_id uuid, slug text, name text, user_id uuid, notify boolean,
               last_event_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.organization_id, o.slug, o.name, t.user_id, t.notify, t.last_event_id
    FROM telegram_chats t
    JOIN organizations o ON o.id = t.organization_id AND o.deleted_at IS NULL
    JOIN users u ON u.id = t.user_id AND u.is_active AND u.session_generation = t.session_generation
                AND (u.disabled_at IS NULL OR u.disabled_at < t.linked_at)
    JOIN memberships m ON m.organization_id = t.organization_id AND m.user_id = t.user_id
    WHERE t.chat_id = telegram_chat_links.chat
    ORDER BY greatest(t.selected_at, t.linked_at) DESC, o.slug
$$;

-- Every live link with notifications on: what the bot follows.
CREATE FUNCTION telegram_subscriptions()
RETURNS TABLE (chat_id bigint, organization_id uuid, last_event_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.chat_id, t.organization_id, t.last_event_id
    FROM telegram_chats t
    JOIN organizations o ON o.id = t.organization_id AND o.deleted_at IS NULL
    JOIN users u ON u.id = t.user_id AND u.is_active AND u.session_generation = t.session_generation
                AND (u.disabled_at IS NULL OR u.disabled_at < t.linked_at)
    JOIN memberships m ON m.organization_id = t.organization_id AND m.user_id = t.user_id
    WHERE t.notify
    ORDER BY t.chat_id, t.organization_id
$$;

-- The organization of a code that can still be spent (a hash in: the code itself never is).
CREATE FUNCTION find_telegram_link_code(code_hash bytea) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.organization_id FROM telegram_link_codes c
    WHERE c.code_hash = find_telegram_link_code.code_hash
      AND c.used_at IS NULL AND c.expires_at > now()
$$;

CALL own_by_definer('telegram_chat_links(bigint)');
CALL own_by_definer('telegram_subscriptions()');
CALL own_by_definer('find_telegram_link_code(bytea)');
