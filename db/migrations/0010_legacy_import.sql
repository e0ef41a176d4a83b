-- The legacy SQLite import: Telegram chats (no table held them before), one record per
-- imported organization (what undo needs), the users it created, and the rows it quarantined.
-- depends: 0005_events_audit

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE TABLE telegram_chats (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chat_id         bigint NOT NULL,
    user_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    title           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT telegram_chats_pkey PRIMARY KEY (organization_id, chat_id)
);
CREATE INDEX telegram_chats_user_idx ON telegram_chats (user_id);
CALL enable_tenant_isolation('telegram_chats');

-- One row per organization created by an import: the file it came from (so a second run
-- over the same file is recognised), the report, and what undo must restore.
CREATE TABLE legacy_imports (
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    source_sha256     text NOT NULL,
    source_name       text NOT NULL,
    sessions          text NOT NULL,
    report            jsonb NOT NULL,
    -- task_events ids are drawn from a sequence; undo puts it back where it was.
    event_seq_before  bigint NOT NULL,
    event_seq_called  boolean NOT NULL,
    event_seq_after   bigint NOT NULL,
    imported_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT legacy_imports_pkey PRIMARY KEY (organization_id),
    CONSTRAINT legacy_imports_source_key UNIQUE (source_sha256),
    CONSTRAINT legacy_imports_sessions_check CHECK (sessions IN ('keep', 'invalidate'))
);
CALL enable_tenant_isolation('legacy_imports');

-- Users are global: undo removes exactly the ones the import created, listed here.
CREATE TABLE legacy_import_users (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT legacy_import_users_pkey PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX legacy_import_users_user_idx ON legacy_import_users (user_id);
CALL enable_tenant_isolation('legacy_import_users');

-- Rows that could not be imported, kept whole (secrets removed) with the reason.
CREATE TABLE legacy_quarantine (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    source_table    text NOT NULL,
    legacy_id       text NOT NULL,
    reason          text NOT NULL,
    row_data        jsonb NOT NULL,
    CONSTRAINT legacy_quarantine_pkey PRIMARY KEY (organization_id, source_table, legacy_id)
);
CALL enable_tenant_isolation('legacy_quarantine');
