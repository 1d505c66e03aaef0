DROP INDEX sync_changes_object_id_idx;
DROP INDEX processed_webhooks_object_id_idx;
DROP TABLE console_audit;
