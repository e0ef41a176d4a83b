-- A person may read their own role assignments, and the roles they hold, in every organization:
-- "my organizations, with my roles in each" is then one query before any organization is chosen.
-- depends: 0011_event_feed_order

SET LOCAL lock_timeout = '10s';
SET LOCAL statement_timeout = '120s';

CREATE POLICY member_roles_own ON member_roles FOR SELECT TO PUBLIC
    USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));

CREATE POLICY roles_held ON roles FOR SELECT TO PUBLIC
    USING (id IN (SELECT mr.role_id FROM member_roles mr
                  WHERE mr.user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));
