-- Browser sign-in for programs (A5, OAuth 2.0 for native apps).

-- What the sessions list calls a session signed in through the browser by
-- a program ("postroom CLI on ada-laptop"); NULL for the others, which are
-- named by their user agent.
ALTER TABLE sessions ADD COLUMN label TEXT;

-- A program's request to sign in, from `/oauth/authorize` (kind `code`) or
-- `/oauth/device` (kind `device`), expiring 5 minutes after it was made. A
-- code request keeps its `redirect_uri` as sent, its PKCE challenge and the
-- `state` to send back. `status`: pending, approved, denied, or used once
-- its token was issued (`session_id` names that session, which a replayed
-- code ends). Codes are stored only as SHA-256 hashes: `code_hash` (the
-- authorization code, set when approved), `device_code_hash` and
-- `user_code_hash` (the device flow's). `user_id` is the account it is
-- for: the one shown the consent page of a code request, the one that
-- approved a device request. `interval_secs` and `last_polled_at` pace a
-- device's polls (slow_down).
CREATE TABLE oauth_requests (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    device_name       TEXT,
    redirect_uri      TEXT,
    code_challenge    TEXT,
    state             TEXT,
    code_hash         TEXT CONSTRAINT oauth_requests_code_hash UNIQUE,
    device_code_hash  TEXT CONSTRAINT oauth_requests_device_code_hash UNIQUE,
    user_code_hash    TEXT CONSTRAINT oauth_requests_user_code_hash UNIQUE,
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    session_id        TEXT,
    interval_secs     BIGINT NOT NULL,
    last_polled_at    BIGINT,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
CREATE INDEX oauth_requests_user ON oauth_requests (user_id);
CREATE INDEX oauth_requests_expires ON oauth_requests (expires_at);
