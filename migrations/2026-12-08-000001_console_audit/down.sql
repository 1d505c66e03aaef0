DROP TABLE console_audit;
