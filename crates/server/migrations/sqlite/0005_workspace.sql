-- Workspace items (S1): collections, environments, globals, history entries
-- and header presets. Each belongs to a person or to a team, never both; it
-- goes with its owner. `revision` is the current one, whose body is in
-- item_revisions; a deleted item keeps its rows until the janitor purges it,
-- 30 days after `deleted_at`.
CREATE TABLE items (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    owner_user_id  TEXT REFERENCES users (id) ON DELETE CASCADE,
    owner_team_id  TEXT REFERENCES teams (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    created_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at     BIGINT NOT NULL,
    updated_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at     BIGINT NOT NULL,
    deleted_at     BIGINT,
    deleted_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT items_one_owner CHECK ((owner_user_id IS NULL) <> (owner_team_id IS NULL))
);
CREATE INDEX items_by_user ON items (owner_user_id, kind, updated_at);
CREATE INDEX items_by_team ON items (owner_team_id, kind, updated_at);
CREATE INDEX items_deleted ON items (deleted_at);

-- Every revision of every item, the current one included: the history a
-- person can restore from, and the bases of three-way merges. `body` is the
-- JSON document, or, when `key_id` names the data key that sealed it, its
-- ciphertext (base64).
CREATE TABLE item_revisions (
    item_id     TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    revision    BIGINT NOT NULL,
    body        TEXT NOT NULL,
    key_id      TEXT,
    size        BIGINT NOT NULL,
    created_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (item_id, revision)
);

-- Public read-only links to a collection (S2). The URL carries the id and
-- an HMAC of it under a server key, so nothing here reveals a working URL.
CREATE TABLE links (
    id          TEXT PRIMARY KEY,
    item_id     TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX links_item ON links (item_id);
CREATE INDEX links_creator ON links (created_by);

-- Who follows which collection in the activity feed (S3).
CREATE TABLE subscriptions (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item_id     TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, item_id)
);
CREATE INDEX subscriptions_item ON subscriptions (item_id);

-- What an event is about (an item's id), for the feed.
ALTER TABLE events ADD COLUMN subject TEXT;
CREATE INDEX events_subject ON events (subject, created_at);

-- Per-owner data keys (S8), each wrapped (sealed) by the key-encryption key
-- kept outside the database; `wrapped_by` names that key, for rotation.
CREATE TABLE data_keys (
    id             TEXT PRIMARY KEY,
    owner_user_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    owner_team_id  TEXT REFERENCES teams (id) ON DELETE SET NULL,
    wrapped        TEXT NOT NULL,
    wrapped_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX data_keys_user ON data_keys (owner_user_id);
CREATE INDEX data_keys_team ON data_keys (owner_team_id);
