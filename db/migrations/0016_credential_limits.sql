-- Credentials that should die, die.
-- A session generation per person: logging out everywhere and a password reset raise it, and
-- every access token and refresh token carries the generation it was issued in, so each one
-- issued before stops at once (exact, whatever the clocks: no timestamps compared).
-- The e-mails sent, per address and per caller, so the sending limit holds across API instances.
-- depends: 0015_last_admin_lock

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

ALTER TABLE users ADD COLUMN session_generation integer NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN session_generation integer NOT NULL DEFAULT 0;

-- Global like login_attempts (an address may belong to no organization): no tenant policy.
CREATE TABLE email_sends (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose  text NOT NULL,
    address  text NOT NULL,
    caller   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_sends_purpose_check
        CHECK (purpose IN ('verify_email', 'reset_password', 'invitation'))
);
CREATE INDEX email_sends_address_at_idx ON email_sends (lower(address), at);
CREATE INDEX email_sends_caller_at_idx ON email_sends (caller, at);

GRANT SELECT, INSERT, DELETE ON email_sends TO miyabi_app;
