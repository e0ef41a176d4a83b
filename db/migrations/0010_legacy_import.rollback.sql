SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';
DROP TABLE legacy_quarantine;
DROP TABLE legacy_import_users;
DROP TABLE legacy_imports;
DROP TABLE telegram_chats;
