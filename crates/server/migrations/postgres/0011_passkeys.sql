-- Passkeys (A10): WebAuthn credentials that sign a person in on their own.

-- One passkey of an account. `credential_id` is the authenticator's id for
-- it (base64url, unpadded), unique across the server so that a sign-in
-- names exactly one account. `credential` is the verifier's record of it as
-- JSON (its public key, algorithm and signature counter): nothing in it is
-- secret. `sign_count` repeats the counter, so that an update never moves it
-- backwards. `name` is the person's (renameable).
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL CONSTRAINT passkeys_credential_id UNIQUE,
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,
    sign_count     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony under way (kind `register` or `sign_in`): the
-- verifier's state between its two requests, kept here rather than trusted
-- from the browser. The browser holds a random id; only its SHA-256 is
-- stored. A ceremony is spent by its first use (the row is deleted) and
-- expires 5 minutes after it began. A registration is bound to the account
-- and the session that began it (`user_id`, `session_id`); a sign-in to
-- nobody yet.
CREATE TABLE passkey_ceremonies (
    id_hash     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
