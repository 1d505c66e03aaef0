DROP INDEX messages_updated_at_idx;
DROP INDEX sessions_updated_at_idx;
