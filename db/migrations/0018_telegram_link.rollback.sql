SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DROP FUNCTION find_telegram_link_code(bytea);
DROP FUNCTION telegram_subscriptions();
DROP FUNCTION telegram_chat_links(bigint);
DROP POLICY definer_lookup ON memberships;
REVOKE SELECT ON TABLE memberships FROM miyabi_definer;
DROP TABLE telegram_link_attempts;
DROP TABLE telegram_link_codes;
DROP POLICY definer_lookup ON telegram_chats;
REVOKE SELECT ON TABLE telegram_chats FROM miyabi_definer;
DROP TRIGGER memberships_end_telegram_links ON memberships;
DROP FUNCTION memberships_end_telegram_links();
DROP TRIGGER telegram_chats_fill_in ON telegram_chats;
DROP FUNCTION telegram_chats_fill_in();
DROP TRIGGER users_note_disabled ON users;
DROP FUNCTION users_note_disabled();
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX telegram_chats_chat_idx;
-- A rollback drops what its migration added; code of the level before never reads these.
-- squawk-ignore ban-drop-column
ALTER TABLE telegram_chats DROP COLUMN selected_at;
-- squawk-ignore ban-drop-column
ALTER TABLE telegram_chats DROP COLUMN linked_at;
-- squawk-ignore ban-drop-column
ALTER TABLE telegram_chats DROP COLUMN last_event_id;
-- squawk-ignore ban-drop-column
ALTER TABLE telegram_chats DROP COLUMN notify;
-- squawk-ignore ban-drop-column
ALTER TABLE telegram_chats DROP COLUMN session_generation;
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN disabled_at;
