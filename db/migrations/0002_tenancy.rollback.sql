SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';
DROP POLICY organizations_of_member ON organizations;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE memberships;
DROP TABLE organizations;
