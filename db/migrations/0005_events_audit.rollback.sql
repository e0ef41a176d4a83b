SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';
DROP TABLE audit_log;
DROP TRIGGER agents_publish_event ON agents;
DROP TRIGGER tasks_publish_event ON tasks;
DROP FUNCTION publish_event();
DROP TABLE events;
