SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

DROP POLICY roles_held ON roles;
DROP POLICY member_roles_own ON member_roles;
