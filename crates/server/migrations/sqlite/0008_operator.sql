-- The operator's console (O7, P10). `operator` marks accounts made
-- operators from the command line (operators named by email in the
-- configuration need no mark); `disabled_at` an account an operator
-- disabled: it cannot sign in, and its sessions and keys were ended.
ALTER TABLE users ADD COLUMN operator BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- When the session last proved its password for the operator pages.
ALTER TABLE sessions ADD COLUMN operator_confirmed_at BIGINT;

-- Answers to support requests.
ALTER TABLE support_requests ADD COLUMN answer TEXT;
ALTER TABLE support_requests ADD COLUMN answered_at BIGINT;

-- Every operator action, kept for good. `operator_id` is absent for the
-- command line (an operator at the server's shell).
CREATE TABLE operator_audit (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT,
    operator     TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL
);
CREATE INDEX operator_audit_created ON operator_audit (created_at);
