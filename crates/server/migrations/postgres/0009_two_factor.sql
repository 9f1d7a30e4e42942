-- Two-step verification (A10). A person's TOTP secret is sealed under
-- their data key, as their environments are. `confirmed_at` is absent while
-- it is being set up (no code from it has been typed yet); `last_step` is
-- the 30-second step of the last code accepted, so that no code is ever
-- accepted twice.
CREATE TABLE user_totp (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- Single-use recovery codes, stored as their SHA-256.
CREATE TABLE recovery_codes (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A web sign-in waiting for its second step: the first (a password, an
-- identity provider) was right. Its token, stored hashed, is good for a few
-- minutes and a few wrong codes.
CREATE TABLE sign_in_challenges (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    keep_signed_in BIGINT NOT NULL,
    failures       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX sign_in_challenges_expiry ON sign_in_challenges (expires_at);
