-- SESSIONS_RETENTION and MESSAGES_RETENTION delete the oldest rows first, a thousand at a
-- time: without these, each batch would read the whole table, and these are the two
-- tables that grow with every sign-in and every email or SMS sent.
CREATE INDEX sessions_updated_at_idx ON sessions (updated_at);
CREATE INDEX messages_updated_at_idx ON messages (updated_at);
