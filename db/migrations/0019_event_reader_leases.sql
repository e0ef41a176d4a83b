-- Open event readers per user as leases: a row per (user, slot) with an expiry, for the API on
-- Lambda behind RDS Proxy. There, a reader may hold no connection across its wait: a
-- session-level advisory lock (the slot of app/realtime.py) would pin a proxied connection to the
-- waiting instance, exactly what the proxy is there to avoid. A lease is taken and given back in
-- short transactions of their own; one whose instance died (a timed-out Lambda) lapses at
-- `expires_at`, so the slot comes back without anyone cleaning up.
-- Global like login_attempts (a person reads in any of their organizations): no tenant policy.
-- depends: 0018_telegram_link

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE TABLE event_reader_leases (
    user_id    uuid NOT NULL,
    slot       integer NOT NULL,
    lease      uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT event_reader_leases_pkey PRIMARY KEY (user_id, slot),
    CONSTRAINT event_reader_leases_user_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT event_reader_leases_slot_check CHECK (slot >= 0 AND slot < 100)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON event_reader_leases TO miyabi_app;
