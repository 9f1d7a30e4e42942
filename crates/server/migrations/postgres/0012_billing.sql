-- Plans and billing (B1-B10, T7): subscriptions, the balance ledger, cards,
-- quotes, payments, invoices, idempotency keys and provider webhooks.
--
-- Money is integer minor units with its currency. Rows that are records of
-- money (ledger entries, payments, invoices and their lines) name their team
-- by id without a foreign key: they outlive a deleted team, for the
-- operator's records.

-- A team's billing account: the payment provider's customer, who receives
-- the invoices, and the details printed on them. Kept after the team is
-- deleted (`deleted_at`), with the name it had. `trial_used_at`: when the
-- team began its one trial.
CREATE TABLE billing_accounts (
    team_id        TEXT PRIMARY KEY,
    team_name      TEXT NOT NULL,
    customer_id    TEXT,
    billing_email  TEXT,
    details        TEXT NOT NULL DEFAULT '{}',
    currency       TEXT NOT NULL,
    trial_used_at  BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    deleted_at     BIGINT
);

-- A team's paid plan (or trial). A team on Free has none. `unit_price` is
-- the price of one seat for one `cycle` as bought (the catalogue may change
-- later). The period is [period_start, period_end); `anchor` is the instant
-- periods are counted from (calendar months or years). `status`: trialing,
-- active, past_due.
CREATE TABLE billing_subscriptions (
    team_id               TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    plan                  TEXT NOT NULL,
    cycle                 TEXT NOT NULL,
    seats                 BIGINT NOT NULL,
    unit_price            BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    status                TEXT NOT NULL,
    anchor                BIGINT NOT NULL,
    period_start          BIGINT NOT NULL,
    period_end            BIGINT NOT NULL,
    cancel_at_period_end  BIGINT NOT NULL DEFAULT 0,
    trial_ends_at         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX billing_subscriptions_period_end ON billing_subscriptions (period_end);

-- The balance ledger, append-only: the balance is the sum of `amount`
-- (positive: money the team has with us). `source` names what caused the
-- entry (`payment:<id>`, `invoice:<id>:balance`, `invoice:<id>:credit`,
-- `refund:<id>`...) and is unique, so recording the same cause twice is
-- refused by the database.
CREATE TABLE ledger_entries (
    id           TEXT PRIMARY KEY,
    team_id      TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    description  TEXT NOT NULL,
    source       TEXT NOT NULL CONSTRAINT ledger_entries_source UNIQUE,
    invoice_id   TEXT,
    created_by   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX ledger_entries_team ON ledger_entries (team_id, created_at);

-- Cards, held by the payment provider: we keep its id, the brand, the last
-- 4 digits and the expiry. One per team may be the default.
CREATE TABLE cards (
    id           TEXT PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    provider_id  TEXT NOT NULL CONSTRAINT cards_provider_id UNIQUE,
    brand        TEXT NOT NULL,
    last4        TEXT NOT NULL,
    exp_month    BIGINT NOT NULL,
    exp_year     BIGINT NOT NULL,
    is_default   BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE INDEX cards_team ON cards (team_id);

-- A previewed change (B2): the instant, the prices and the lines pinned for
-- 15 minutes, and the balance they were split against. Used once.
CREATE TABLE quotes (
    id            TEXT PRIMARY KEY,
    team_id       TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id       TEXT,
    plan          TEXT NOT NULL,
    cycle         TEXT NOT NULL,
    seats         BIGINT NOT NULL,
    unit_price    BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    at            BIGINT NOT NULL,
    anchor        BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    period_end    BIGINT NOT NULL,
    lines         TEXT NOT NULL,
    subtotal      BIGINT NOT NULL,
    from_balance  BIGINT NOT NULL,
    from_card     BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    balance       BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

-- Invoices and credit notes (`kind` credit_note). `number` is gapless,
-- given when the invoice is issued; lines and amounts never change after
-- that (a correction is a credit note naming the invoice in `corrects`).
-- `status`: open (not yet paid), paid, uncollectible (the plan ended
-- unpaid). `billing` is a snapshot of who was billed (JSON).
CREATE TABLE invoices (
    id               TEXT PRIMARY KEY,
    team_id          TEXT NOT NULL,
    number           TEXT NOT NULL CONSTRAINT invoices_number UNIQUE,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    currency         TEXT NOT NULL,
    subtotal         BIGINT NOT NULL,
    from_balance     BIGINT NOT NULL,
    from_card        BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    period_start     BIGINT,
    period_end       BIGINT,
    billing          TEXT NOT NULL,
    corrects         TEXT,
    issued_at        BIGINT NOT NULL,
    paid_at          BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    created_by       TEXT
);
CREATE INDEX invoices_team ON invoices (team_id, issued_at);
CREATE INDEX invoices_next_attempt ON invoices (next_attempt_at);

CREATE TABLE invoice_lines (
    invoice_id    TEXT NOT NULL REFERENCES invoices (id),
    position      BIGINT NOT NULL,
    description   TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    period_end    BIGINT NOT NULL,
    proration     BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- The last invoice number given (one row): taken and bumped inside the
-- transaction that issues an invoice, so numbers have no gaps.
CREATE TABLE invoice_numbers (
    id    BIGINT PRIMARY KEY,
    last  BIGINT NOT NULL
);
INSERT INTO invoice_numbers (id, last) VALUES (1, 0);

-- Charges to a card. The row is written before the provider is asked, and
-- its id is the provider's idempotency key, so that an answer lost in a
-- crash is found again (`pending` rows are reconciled) and never charged
-- twice. `purpose`: change (applies `quote_id` once paid), renewal (pays
-- `invoice_id`), top_up. `status`: pending, requires_action, succeeded,
-- failed.
CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    team_id          TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    invoice_id       TEXT,
    quote_id         TEXT,
    amount           BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    card_id          TEXT,
    card_label       TEXT,
    provider_id      TEXT,
    client_secret    TEXT,
    status           TEXT NOT NULL,
    failure_code     TEXT,
    failure_message  TEXT,
    hard_decline     BIGINT NOT NULL DEFAULT 0,
    created_by       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX payments_team ON payments (team_id, created_at);
CREATE INDEX payments_status ON payments (status);

-- Requests that move money, by the key their sender gave
-- (`Idempotency-Key`): the first one's body hash and, once done, its
-- answer, replayed for a retry. `owner` is who sent it and where.
CREATE TABLE idempotency_keys (
    owner         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT,
    response      TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Provider webhook events already handled, by the provider's event id.
CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
