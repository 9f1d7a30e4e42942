//! Billing's tables (B1-B10): billing accounts, subscriptions, the balance
//! ledger, cards, quotes, invoices and their numbers, payments, idempotency
//! keys and provider webhooks. The rules live in `domain::billing`; this
//! module only reads and writes rows.

use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub team_id: String,
    pub team_name: String,
    pub customer_id: Option<String>,
    pub billing_email: Option<String>,
    /// JSON of `api::BillingDetails`.
    pub details: String,
    pub currency: String,
    pub trial_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// Notes that the team began its one trial.
pub async fn mark_trial_used(tx: &mut Tx, team_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "UPDATE billing_accounts SET trial_used_at = $2, updated_at = $2 WHERE team_id = $1",
    )
    .bind(team_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// The team's billing account, made on first use.
pub async fn ensure_account(
    tx: &mut Tx,
    team_id: &str,
    team_name: &str,
    currency: &str,
    now: Millis,
) -> Result<AccountRow, sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO billing_accounts (team_id, team_name, currency, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (team_id) DO NOTHING",
    )
    .bind(team_id)
    .bind(team_name)
    .bind(currency)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query_as("SELECT * FROM billing_accounts WHERE team_id = $1")
        .bind(team_id)
        .fetch_one(c)
        .await
}

pub async fn account(c: &mut Conn, team_id: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM billing_accounts WHERE team_id = $1")
        .bind(team_id)
        .fetch_optional(c)
        .await
}

pub async fn set_customer(
    tx: &mut Tx,
    team_id: &str,
    customer_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query("UPDATE billing_accounts SET customer_id = $2, updated_at = $3 WHERE team_id = $1")
        .bind(team_id)
        .bind(customer_id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// Sets who receives the invoices and the details printed on them, and
/// the team's name as invoices show it.
pub async fn update_account(
    tx: &mut Tx,
    team_id: &str,
    team_name: &str,
    billing_email: Option<&str>,
    details: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "UPDATE billing_accounts SET team_name = $2, billing_email = $3, details = $4, \
         updated_at = $5 WHERE team_id = $1",
    )
    .bind(team_id)
    .bind(team_name)
    .bind(billing_email)
    .bind(details)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// Marks the account of a deleted team; its records stay.
pub async fn mark_account_deleted(
    tx: &mut Tx,
    team_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query("UPDATE billing_accounts SET deleted_at = $2, updated_at = $2 WHERE team_id = $1")
        .bind(team_id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SubscriptionRow {
    pub team_id: String,
    pub plan: String,
    pub cycle: String,
    pub seats: i64,
    pub unit_price: i64,
    pub currency: String,
    /// trialing, active or past_due.
    pub status: String,
    pub anchor: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub cancel_at_period_end: i64,
    pub trial_ends_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn subscription(
    c: &mut Conn,
    team_id: &str,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM billing_subscriptions WHERE team_id = $1")
        .bind(team_id)
        .fetch_optional(c)
        .await
}

/// Writes the team's subscription whole (inserted or replaced).
pub async fn put_subscription(tx: &mut Tx, s: &SubscriptionRow) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO billing_subscriptions (team_id, plan, cycle, seats, unit_price, currency, status, \
         anchor, period_start, period_end, cancel_at_period_end, trial_ends_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (team_id) DO UPDATE SET plan = $2, cycle = $3, seats = $4, unit_price = $5, \
         currency = $6, status = $7, anchor = $8, period_start = $9, period_end = $10, \
         cancel_at_period_end = $11, trial_ends_at = $12, updated_at = $14",
    )
    .bind(&s.team_id)
    .bind(&s.plan)
    .bind(&s.cycle)
    .bind(s.seats)
    .bind(s.unit_price)
    .bind(&s.currency)
    .bind(&s.status)
    .bind(s.anchor)
    .bind(s.period_start)
    .bind(s.period_end)
    .bind(s.cancel_at_period_end)
    .bind(s.trial_ends_at)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_subscription(tx: &mut Tx, team_id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query("DELETE FROM billing_subscriptions WHERE team_id = $1")
        .bind(team_id)
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Teams whose period ended by `now`, oldest end first.
pub async fn due_subscriptions(
    c: &mut Conn,
    now: Millis,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT team_id FROM billing_subscriptions WHERE period_end <= $1 AND status <> 'past_due' \
         ORDER BY period_end LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// One entry of the balance ledger.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EntryRow {
    pub id: String,
    pub team_id: String,
    pub amount: i64,
    pub currency: String,
    pub kind: String,
    pub description: String,
    pub source: String,
    pub invoice_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// What a new ledger entry says; `source` names its cause, once.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub team_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub source: &'a str,
    pub invoice_id: Option<&'a str>,
    pub created_by: Option<&'a str>,
}

/// Appends an entry; false when an entry for the same `source` exists (the
/// cause was recorded already).
pub async fn add_entry(tx: &mut Tx, e: &NewEntry<'_>, now: Millis) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "INSERT INTO ledger_entries (id, team_id, amount, currency, kind, description, source, \
         invoice_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (source) DO NOTHING",
    )
    .bind(new_id())
    .bind(e.team_id)
    .bind(e.amount)
    .bind(e.currency)
    .bind(e.kind)
    .bind(e.description)
    .bind(e.source)
    .bind(e.invoice_id)
    .bind(e.created_by)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The team's balance: the sum of its ledger entries.
pub async fn balance(c: &mut Conn, team_id: &str) -> Result<i64, sqlx::Error> {
    let (sum,): (Option<i64>,) =
        sqlx::query_as("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE team_id = $1")
            .bind(team_id)
            .fetch_one(c)
            .await?;
    Ok(sum.unwrap_or(0))
}

/// The team's ledger entries, newest first.
pub async fn entries(
    c: &mut Conn,
    team_id: &str,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM ledger_entries WHERE team_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(team_id)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Whether an entry for `source` exists.
pub async fn entry_exists(c: &mut Conn, source: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM ledger_entries WHERE source = $1")
        .bind(source)
        .fetch_optional(c)
        .await?;
    Ok(row.is_some())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CardRow {
    pub id: String,
    pub team_id: String,
    pub provider_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub is_default: i64,
    pub created_at: i64,
}

/// The team's cards, the default first, then newest first.
pub async fn cards(c: &mut Conn, team_id: &str) -> Result<Vec<CardRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM cards WHERE team_id = $1 ORDER BY is_default DESC, created_at DESC, id DESC",
    )
    .bind(team_id)
    .fetch_all(c)
    .await
}

pub async fn card(c: &mut Conn, team_id: &str, id: &str) -> Result<Option<CardRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM cards WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn default_card(c: &mut Conn, team_id: &str) -> Result<Option<CardRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM cards WHERE team_id = $1 AND is_default = 1")
        .bind(team_id)
        .fetch_optional(c)
        .await
}

/// Adds a card; the team's first becomes its default.
pub async fn add_card(tx: &mut Tx, card: &CardRow) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO cards (id, team_id, provider_id, brand, last4, exp_month, exp_year, is_default, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, \
         CASE WHEN EXISTS (SELECT 1 FROM cards WHERE team_id = $2 AND is_default = 1) THEN 0 ELSE 1 END, $8)",
    )
    .bind(&card.id)
    .bind(&card.team_id)
    .bind(&card.provider_id)
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(card.created_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Makes the card the team's default (and no other).
pub async fn set_default_card(tx: &mut Tx, team_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "UPDATE cards SET is_default = CASE WHEN id = $2 THEN 1 ELSE 0 END WHERE team_id = $1 \
         AND EXISTS (SELECT 1 FROM cards WHERE team_id = $1 AND id = $2)",
    )
    .bind(team_id)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a card; when it was the default, the newest other card becomes
/// the default.
pub async fn delete_card(tx: &mut Tx, team_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query("DELETE FROM cards WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "UPDATE cards SET is_default = 1 WHERE id = (SELECT id FROM cards WHERE team_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1) \
         AND NOT EXISTS (SELECT 1 FROM cards WHERE team_id = $1 AND is_default = 1)",
    )
    .bind(team_id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct QuoteRow {
    pub id: String,
    pub team_id: String,
    pub user_id: Option<String>,
    pub plan: String,
    pub cycle: String,
    pub seats: i64,
    pub unit_price: i64,
    pub currency: String,
    pub at: i64,
    pub anchor: i64,
    pub period_start: i64,
    pub period_end: i64,
    /// JSON: the lines, as `Vec<postroom_core::billing::Line>`.
    pub lines: String,
    pub subtotal: i64,
    pub from_balance: i64,
    pub from_card: i64,
    pub total: i64,
    /// The balance the quote was split against.
    pub balance: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_quote(tx: &mut Tx, q: &QuoteRow) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO quotes (id, team_id, user_id, plan, cycle, seats, unit_price, currency, at, \
         anchor, period_start, period_end, lines, subtotal, from_balance, from_card, total, balance, \
         expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&q.id)
    .bind(&q.team_id)
    .bind(&q.user_id)
    .bind(&q.plan)
    .bind(&q.cycle)
    .bind(q.seats)
    .bind(q.unit_price)
    .bind(&q.currency)
    .bind(q.at)
    .bind(q.anchor)
    .bind(q.period_start)
    .bind(q.period_end)
    .bind(&q.lines)
    .bind(q.subtotal)
    .bind(q.from_balance)
    .bind(q.from_card)
    .bind(q.total)
    .bind(q.balance)
    .bind(q.expires_at)
    .bind(q.used_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn quote(c: &mut Conn, team_id: &str, id: &str) -> Result<Option<QuoteRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM quotes WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(id)
        .fetch_optional(c)
        .await
}

/// Spends a quote; false when it was spent already.
pub async fn use_quote(tx: &mut Tx, id: &str, now: Millis) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query("UPDATE quotes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Makes a spent quote usable again (its payment was declined).
pub async fn release_quote(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query("UPDATE quotes SET used_at = NULL WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Forgets quotes that expired before `before` and were never used.
pub async fn purge_quotes(tx: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query("DELETE FROM quotes WHERE expires_at < $1 AND used_at IS NULL")
        .bind(before)
        .execute(c)
        .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InvoiceRow {
    pub id: String,
    pub team_id: String,
    pub number: String,
    /// subscription (a change of plan, cycle or seats), renewal, credit_note.
    pub kind: String,
    /// open, paid or uncollectible.
    pub status: String,
    pub currency: String,
    pub subtotal: i64,
    pub from_balance: i64,
    pub from_card: i64,
    pub total: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    /// JSON: who was billed, as they were then.
    pub billing: String,
    pub corrects: Option<String>,
    pub issued_at: i64,
    pub paid_at: Option<i64>,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LineRow {
    pub invoice_id: String,
    pub position: i64,
    pub description: String,
    pub amount: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub proration: i64,
}

/// The next invoice number, taken inside the transaction that issues the
/// invoice: the counter row stays locked until it ends, so numbers have no
/// gaps and no repeats.
pub async fn next_invoice_number(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let c: &mut Conn = tx;
    let (n,): (i64,) =
        sqlx::query_as("UPDATE invoice_numbers SET last = last + 1 WHERE id = 1 RETURNING last")
            .fetch_one(c)
            .await?;
    Ok(n)
}

/// Issues an invoice with its lines.
pub async fn insert_invoice(
    tx: &mut Tx,
    inv: &InvoiceRow,
    lines: &[LineRow],
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO invoices (id, team_id, number, kind, status, currency, subtotal, from_balance, \
         from_card, total, period_start, period_end, billing, corrects, issued_at, paid_at, attempts, \
         next_attempt_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(&inv.id)
    .bind(&inv.team_id)
    .bind(&inv.number)
    .bind(&inv.kind)
    .bind(&inv.status)
    .bind(&inv.currency)
    .bind(inv.subtotal)
    .bind(inv.from_balance)
    .bind(inv.from_card)
    .bind(inv.total)
    .bind(inv.period_start)
    .bind(inv.period_end)
    .bind(&inv.billing)
    .bind(&inv.corrects)
    .bind(inv.issued_at)
    .bind(inv.paid_at)
    .bind(inv.attempts)
    .bind(inv.next_attempt_at)
    .bind(&inv.created_by)
    .execute(&mut *c)
    .await?;
    for l in lines {
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, amount, period_start, \
             period_end, proration) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&l.invoice_id)
        .bind(l.position)
        .bind(&l.description)
        .bind(l.amount)
        .bind(l.period_start)
        .bind(l.period_end)
        .bind(l.proration)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn invoice(
    c: &mut Conn,
    team_id: &str,
    id: &str,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM invoices WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn invoice_by_id(c: &mut Conn, id: &str) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn invoice_lines(c: &mut Conn, invoice_id: &str) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY position")
        .bind(invoice_id)
        .fetch_all(c)
        .await
}

/// The team's invoices, newest first, before the number `before`.
pub async fn invoices(
    c: &mut Conn,
    team_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM invoices WHERE team_id = $1 AND number < $2 ORDER BY number DESC LIMIT $3",
    )
    .bind(team_id)
    .bind(before.unwrap_or("~"))
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The team's oldest open invoice.
pub async fn open_invoice(c: &mut Conn, team_id: &str) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM invoices WHERE team_id = $1 AND status = 'open' ORDER BY number LIMIT 1",
    )
    .bind(team_id)
    .fetch_optional(c)
    .await
}

/// The team's open invoices, oldest first.
pub async fn open_invoices(c: &mut Conn, team_id: &str) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM invoices WHERE team_id = $1 AND status = 'open' ORDER BY number")
        .bind(team_id)
        .fetch_all(c)
        .await
}

/// Open invoices whose next attempt is due by `now`.
pub async fn invoices_to_retry(
    c: &mut Conn,
    now: Millis,
    limit: i64,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM invoices WHERE status = 'open' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, number LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Moves an open invoice to `status` (paid or uncollectible).
pub async fn settle_invoice(
    tx: &mut Tx,
    id: &str,
    status: &str,
    paid_at: Option<Millis>,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "UPDATE invoices SET status = $2, paid_at = $3, next_attempt_at = NULL \
         WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(status)
    .bind(paid_at)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records a payment attempt of an open invoice and when to try next
/// (`None`: not again by itself).
pub async fn invoice_attempted(
    tx: &mut Tx,
    id: &str,
    attempts: i64,
    next_attempt_at: Option<Millis>,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "UPDATE invoices SET attempts = $2, next_attempt_at = $3 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(attempts)
    .bind(next_attempt_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Asks for another attempt at the team's open invoices now (a new card).
pub async fn retry_open_invoices(
    tx: &mut Tx,
    team_id: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "UPDATE invoices SET next_attempt_at = $2 WHERE team_id = $1 AND status = 'open'",
    )
    .bind(team_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub team_id: String,
    /// change, renewal or top_up.
    pub purpose: String,
    pub invoice_id: Option<String>,
    pub quote_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub card_id: Option<String>,
    /// "Visa •••• 4242", as the card was when charged.
    pub card_label: Option<String>,
    pub provider_id: Option<String>,
    pub client_secret: Option<String>,
    /// pending, requires_action, succeeded or failed.
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub hard_decline: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_payment(tx: &mut Tx, p: &PaymentRow) -> Result<(), sqlx::Error> {
    let c: &mut Conn = tx;
    sqlx::query(
        "INSERT INTO payments (id, team_id, purpose, invoice_id, quote_id, amount, currency, card_id, \
         card_label, provider_id, client_secret, status, failure_code, failure_message, hard_decline, \
         created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&p.id)
    .bind(&p.team_id)
    .bind(&p.purpose)
    .bind(&p.invoice_id)
    .bind(&p.quote_id)
    .bind(p.amount)
    .bind(&p.currency)
    .bind(&p.card_id)
    .bind(&p.card_label)
    .bind(&p.provider_id)
    .bind(&p.client_secret)
    .bind(&p.status)
    .bind(&p.failure_code)
    .bind(&p.failure_message)
    .bind(p.hard_decline)
    .bind(&p.created_by)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn payment(c: &mut Conn, id: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn payment_by_provider_id(
    c: &mut Conn,
    provider_id: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM payments WHERE provider_id = $1")
        .bind(provider_id)
        .fetch_optional(c)
        .await
}

/// What the provider said of a payment. Only a payment not settled yet
/// (pending or requires_action) changes; false otherwise.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    pub status: &'a str,
    pub provider_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub failure_code: Option<&'a str>,
    pub failure_message: Option<&'a str>,
    pub hard_decline: bool,
}

pub async fn set_payment_outcome(
    tx: &mut Tx,
    id: &str,
    o: &Outcome<'_>,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "UPDATE payments SET status = $2, provider_id = COALESCE($3, provider_id), \
         client_secret = $4, failure_code = $5, failure_message = $6, hard_decline = $7, \
         updated_at = $8 WHERE id = $1 AND status IN ('pending', 'requires_action')",
    )
    .bind(id)
    .bind(o.status)
    .bind(o.provider_id)
    .bind(o.client_secret)
    .bind(o.failure_code)
    .bind(o.failure_message)
    .bind(i64::from(o.hard_decline))
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Payments whose outcome is not known yet and that were last touched
/// before `before` (to be asked of the provider again).
pub async fn unsettled_payments(
    c: &mut Conn,
    before: Millis,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM payments WHERE status IN ('pending', 'requires_action') AND updated_at < $1 \
         ORDER BY updated_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The team's payments whose outcome is not known yet, of `purpose` (any
/// when `None`) and, when given, for `invoice_id`.
pub async fn unsettled_of_team(
    c: &mut Conn,
    team_id: &str,
    purpose: Option<&str>,
    invoice_id: Option<&str>,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM payments WHERE team_id = $1 AND status IN ('pending', 'requires_action') \
         AND ($2 IS NULL OR purpose = $2) AND ($3 IS NULL OR invoice_id = $3) ORDER BY created_at",
    )
    .bind(team_id)
    .bind(purpose)
    .bind(invoice_id)
    .fetch_all(c)
    .await
}

/// Past-due subscriptions whose open invoice will not be tried again by
/// itself (a hard decline) and was issued before `before`.
pub async fn stalled_past_due(
    c: &mut Conn,
    before: Millis,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT s.team_id FROM billing_subscriptions s WHERE s.status = 'past_due' AND EXISTS \
         (SELECT 1 FROM invoices i WHERE i.team_id = s.team_id AND i.status = 'open' \
         AND i.next_attempt_at IS NULL AND i.issued_at < $1) LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The team's latest payments, newest first.
pub async fn recent_payments(
    c: &mut Conn,
    team_id: &str,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM payments WHERE team_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(team_id)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Where an idempotency key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// First seen now: the request goes ahead.
    New,
    /// The same request is still being handled.
    InProgress,
    /// Done before: its answer.
    Done { status: i64, response: String },
    /// The key was used for a different request.
    Mismatch,
}

/// Claims `key` for `owner` and this request's body hash, or says what
/// became of it.
pub async fn claim_key(
    c: &mut Conn,
    owner: &str,
    key: &str,
    request_hash: &str,
    now: Millis,
) -> Result<KeyState, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (owner, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (owner, key) DO NOTHING",
    )
    .bind(owner)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .execute(&mut *c)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(KeyState::New);
    }
    let (hash, status, response): (String, Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE owner = $1 AND key = $2",
    )
    .bind(owner)
    .bind(key)
    .fetch_one(c)
    .await?;
    Ok(if hash != request_hash {
        KeyState::Mismatch
    } else {
        match (status, response) {
            (Some(status), Some(response)) => KeyState::Done { status, response },
            _ => KeyState::InProgress,
        }
    })
}

/// Stores the answer given to the request of `key`.
pub async fn finish_key(
    c: &mut Conn,
    owner: &str,
    key: &str,
    status: i64,
    response: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE owner = $1 AND key = $2",
    )
    .bind(owner)
    .bind(key)
    .bind(status)
    .bind(response)
    .execute(c)
    .await?;
    Ok(())
}

/// Lets `key` be used again (its request failed without moving money).
pub async fn release_key(c: &mut Conn, owner: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND status IS NULL")
        .bind(owner)
        .bind(key)
        .execute(c)
        .await?;
    Ok(())
}

/// Forgets keys claimed before `before`.
pub async fn purge_keys(tx: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(done.rows_affected())
}

/// Notes a provider webhook event; false when it was seen before.
pub async fn webhook_seen(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = tx;
    let done = sqlx::query(
        "INSERT INTO webhook_events (id, kind, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 0)
}

/// Whether a provider webhook event was handled already.
pub async fn webhook_handled(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM webhook_events WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    Ok(row.is_some())
}

/// A billing entry of the team's event stream, for the history (B7).
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub seq: i64,
    pub kind: String,
    pub actor_username: Option<String>,
    pub data: String,
    pub created_at: i64,
}

/// The team's billing events (kinds starting `billing_`, and the operator's
/// plan changes), newest first, before the sequence number `before`.
pub async fn history(
    c: &mut Conn,
    scope: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.seq, e.kind, u.username AS actor_username, e.data, e.created_at \
         FROM events e LEFT JOIN users u ON u.id = e.actor_id \
         WHERE e.scope = $1 AND e.seq < $2 AND (e.kind LIKE 'billing\\_%' ESCAPE '\\' OR e.kind = 'plan_set') \
         ORDER BY e.seq DESC LIMIT $3",
    )
    .bind(scope)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(c)
    .await
}
