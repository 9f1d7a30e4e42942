-- OpenID Connect sign-in (A2) and team single sign-on (A7).

-- An identity at an OpenID provider linked to an account: `provider` is the
-- id of an `[[oidc]]` table of the configuration, or `team:<team id>` for a
-- team's own provider; `subject` is the provider's `sub`. One identity signs
-- in one account, and an account links at most one identity per provider.
CREATE TABLE oidc_identities (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    CONSTRAINT oidc_identities_provider_subject UNIQUE (provider, subject),
    CONSTRAINT oidc_identities_user_provider UNIQUE (user_id, provider)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- A sign-in through a provider under way, single-use, expiring after 10
-- minutes. `token_hash` is the SHA-256 of the value the browser holds (the
-- `state` sent to the provider, in a cookie too); the PKCE verifier and the
-- nonce are derived from that value with a server key, so none of them is
-- stored. `purpose`: sign_in, link (a signed-in `user_id` adds an identity),
-- test (a team admin `user_id` tries the team's provider), or continue (a
-- person proven by the provider who must still choose a username, or prove
-- the account with the same email). `pending_*` is an identity proven but
-- not linked yet: a continue request's, or a sign_in request made to prove
-- the account it is to be linked to.
CREATE TABLE oidc_requests (
    token_hash              TEXT PRIMARY KEY,
    provider                TEXT NOT NULL,
    purpose                 TEXT NOT NULL,
    user_id                 TEXT REFERENCES users (id) ON DELETE CASCADE,
    next                    TEXT,
    keep_signed_in          BIGINT NOT NULL,
    pending_provider        TEXT,
    pending_subject         TEXT,
    pending_email           TEXT,
    pending_email_verified  BIGINT NOT NULL DEFAULT 0,
    pending_name            TEXT,
    created_at              BIGINT NOT NULL,
    expires_at              BIGINT NOT NULL
);
CREATE INDEX oidc_requests_expires ON oidc_requests (expires_at);

-- A team's own OpenID provider (A7), bound to its verified domains. The
-- client secret is sealed under the team's data key (`secret_key_id`, see
-- workspace/secrets.rs). `tested_at`: when an admin last completed a sign-in
-- through it with this setup; it may be enforced only once tested.
CREATE TABLE team_sso (
    team_id               TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    issuer                TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    client_secret_sealed  TEXT NOT NULL,
    secret_key_id         TEXT NOT NULL,
    tested_at             BIGINT,
    enforced              BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
