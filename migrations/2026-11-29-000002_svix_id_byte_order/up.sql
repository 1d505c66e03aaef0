-- Ties between two versions of an object at one `updated_at` are settled by the event id,
-- and a worker settles them twice: in the batch it reduces (comparing bytes) and in the
-- database (comparing by the column's collation). Under a linguistic collation such as
-- en_US.UTF-8, `msg_2aX` sorts before `msg_2B7`; by bytes, after. The two must agree, or
-- the row kept would depend on how events were batched, so the ids compare by bytes here
-- too. No index covers these columns: changing their collation rewrites nothing.
ALTER TABLE users ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE sessions ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE organizations ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE organization_memberships ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE organization_invitations ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE organization_domains ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE roles ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE permissions ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE messages ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE waitlist_entries ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE subscriptions ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE subscription_items ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE payment_attempts ALTER COLUMN last_svix_id TYPE text COLLATE "C";
ALTER TABLE tombstones ALTER COLUMN svix_id TYPE text COLLATE "C";
