CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL,
    username_key       TEXT NOT NULL CONSTRAINT users_username_key UNIQUE,
    email              TEXT NOT NULL,
    email_key          TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    email_verified_at  BIGINT,
    password_hash      TEXT NOT NULL,
    display_name       TEXT,
    bio                TEXT,
    links              TEXT NOT NULL DEFAULT '[]',
    profile_public     BIGINT NOT NULL DEFAULT 0,
    usage              TEXT,
    notification_prefs TEXT NOT NULL DEFAULT '{}',
    avatar_version     BIGINT,
    failed_sign_ins    BIGINT NOT NULL DEFAULT 0,
    locked_until       BIGINT,
    terms_accepted_at  BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL CONSTRAINT sessions_token_hash UNIQUE,
    keep_signed_in  BIGINT NOT NULL,
    user_agent      TEXT,
    ip              TEXT,
    created_at      BIGINT NOT NULL,
    last_active_at  BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE known_devices (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_hash   TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_hash)
);

CREATE TABLE user_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    new_email   TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL CONSTRAINT api_keys_key_hash UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE avatars (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    data          BYTEA NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE scope_seqs (
    scope  TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL
);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    actor_id    TEXT,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT events_scope_seq UNIQUE (scope, seq)
);

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id    TEXT,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, id);

CREATE TABLE mail_queue (
    id               TEXT PRIMARY KEY,
    to_addr          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text_body        TEXT NOT NULL,
    html_body        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    last_error       TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at);

CREATE TABLE rate_limits (
    key           TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);

CREATE TABLE used_captchas (
    solution_hash  TEXT PRIMARY KEY,
    expires_at     BIGINT NOT NULL
);
