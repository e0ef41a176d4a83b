SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';
DROP TABLE task_events;
DROP TABLE tasks;
DROP TABLE agents;
DROP FUNCTION check_task_status_move();
