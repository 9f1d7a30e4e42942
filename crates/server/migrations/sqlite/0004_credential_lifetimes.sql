-- Optional expiry of personal API keys, chosen when a key is created.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;

-- Consecutive account locks since the last successful sign-in; each lock
-- lasts twice as long as the one before, up to the configured maximum.
ALTER TABLE users ADD COLUMN lockouts BIGINT NOT NULL DEFAULT 0;
