-- Sync (S4-S7). The change log is the items scopes of `events`, kept for
-- `change_log_days`; `pruned_seq` is the last number the janitor removed
-- from a scope, so a cursor before it is known to be too old.
ALTER TABLE scope_seqs ADD COLUMN pruned_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_created ON events (created_at);

-- A write that could not be merged (S7): kept whole, with the revision it
-- was based on and the one it met, until the person resolves it. `body` is
-- the document written (sealed like the item's own when `key_id` is set);
-- a conflicting delete has none. `details` is the JSON list of the fields
-- changed both ways.
CREATE TABLE conflicts (
    id               TEXT PRIMARY KEY,
    item_id          TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    base_revision    BIGINT NOT NULL,
    theirs_revision  BIGINT NOT NULL,
    op               TEXT NOT NULL,
    body             TEXT,
    key_id           TEXT,
    details          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    resolved_at      BIGINT,
    resolution       TEXT
);
CREATE INDEX conflicts_user ON conflicts (user_id, resolved_at, created_at);
CREATE INDEX conflicts_item ON conflicts (item_id);
