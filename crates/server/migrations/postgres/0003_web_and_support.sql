-- When the person finished (or skipped) onboarding after their first sign-in.
ALTER TABLE users ADD COLUMN onboarded_at BIGINT;

CREATE TABLE support_requests (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX support_requests_user ON support_requests (user_id, id);
