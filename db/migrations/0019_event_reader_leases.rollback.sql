SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DROP TABLE event_reader_leases;
