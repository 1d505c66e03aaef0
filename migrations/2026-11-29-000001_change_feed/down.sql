DROP TABLE sync_changes;
