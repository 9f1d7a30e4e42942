-- Teams (T1-T6, T8, T9). Seats come from the team's plan (`plans.rs`) and
-- are stored per team, so billing can change them (T7).

CREATE TABLE teams (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL CONSTRAINT teams_slug UNIQUE,
    plan          TEXT NOT NULL,
    seats         BIGINT NOT NULL,
    discoverable  BIGINT NOT NULL DEFAULT 0,
    created_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- One row per person in a team. `support_only` = 1: the person holds only a
-- support role (admin or billing) and takes no paid seat (T2).
CREATE TABLE team_members (
    team_id       TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    support_only  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT team_members_team_id_user_id UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- Invites by email (`email` set) or by link (`email` NULL). Only a hash of
-- the link's token is stored. status: pending | accepted | cancelled; a
-- pending invite past `expires_at` is expired.
CREATE TABLE team_invites (
    id           TEXT PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    email        TEXT,
    email_key    TEXT,
    token_hash   TEXT NOT NULL CONSTRAINT team_invites_token_hash UNIQUE,
    status       TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at   BIGINT
);
CREATE INDEX team_invites_team ON team_invites (team_id, status);

-- Email domains a team claims; verified by a DNS TXT record or an operator.
-- A domain can be verified by one team only.
CREATE TABLE team_domains (
    team_id      TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    domain       TEXT NOT NULL,
    txt_token    TEXT NOT NULL,
    verified_at  BIGINT,
    verified_by  TEXT,
    created_at   BIGINT NOT NULL,
    CONSTRAINT team_domains_team_id_domain UNIQUE (team_id, domain)
);
CREATE UNIQUE INDEX team_domains_domain ON team_domains (domain) WHERE verified_at IS NOT NULL;

-- Requests to join a discoverable team. status: pending | approved |
-- declined | withdrawn; one pending request per person and team.
CREATE TABLE team_join_requests (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX team_join_requests_team_id_user_id ON team_join_requests (team_id, user_id) WHERE status = 'pending';
