DROP TABLE sync_changes_pruned;
DROP TABLE sync_instance;
