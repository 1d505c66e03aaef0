DROP TABLE tombstones;
DROP TABLE user_email_addresses;
DROP TABLE users;
DROP TABLE processed_webhooks;
