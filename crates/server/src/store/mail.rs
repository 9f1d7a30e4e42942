//! The outgoing mail queue. Mails are queued in the transaction of the action
//! that causes them and sent by the mail worker, which claims due rows with a
//! lease so that several nodes never send the same mail twice at once.

use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct QueuedMail {
    pub id: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
}

pub async fn enqueue(
    c: &mut Tx,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
    now: Millis,
) -> Result<String, sqlx::Error> {
    // The commit wakes the mail worker.
    c.mail_queued();
    let c: &mut Conn = c;
    let id = new_id();
    sqlx::query(
        "INSERT INTO mail_queue (id, to_addr, subject, text_body, html_body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(to)
    .bind(subject)
    .bind(text)
    .bind(html)
    .bind(now)
    .execute(c)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due mails for `lease` milliseconds.
pub async fn claim_due(
    c: &mut Tx,
    now: Millis,
    lease: Millis,
    limit: i64,
) -> Result<Vec<QueuedMail>, sqlx::Error> {
    let c: &mut Conn = c;
    let ids: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM mail_queue WHERE next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let mut claimed = Vec::with_capacity(ids.len());
    for (id,) in ids {
        // The condition repeats the check, so only one claimant wins a row.
        let row: Option<QueuedMail> = sqlx::query_as(
            "UPDATE mail_queue SET locked_until = $2 WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $3) \
             RETURNING id, to_addr, subject, text_body, html_body, attempts",
        )
        .bind(&id)
        .bind(now + lease)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        claimed.extend(row);
    }
    Ok(claimed)
}

pub async fn delete(c: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("DELETE FROM mail_queue WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn reschedule(
    c: &mut Tx,
    id: &str,
    next_attempt_at: Millis,
    error: &str,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(next_attempt_at)
        .bind(error)
        .execute(c)
        .await
        .map(|_| ())
}

/// How many mails wait to be sent (for `/metrics` and tests).
pub async fn pending(c: &mut Conn) -> Result<i64, sqlx::Error> {
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mail_queue")
        .fetch_one(c)
        .await?;
    Ok(n.0)
}
