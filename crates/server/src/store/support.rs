//! Support requests (P10).

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct SupportRow {
    pub id: String,
    pub category: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub created_at: i64,
    pub answer: Option<String>,
    pub answered_at: Option<i64>,
}

pub async fn insert(
    c: &mut Tx,
    id: &str,
    user_id: &str,
    category: &str,
    subject: &str,
    body: &str,
    now: Millis,
) -> Result<SupportRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(
        "INSERT INTO support_requests (id, user_id, category, subject, body, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $6) RETURNING id, category, subject, body, status, created_at, answer, answered_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(category)
    .bind(subject)
    .bind(body)
    .bind(now)
    .fetch_one(c)
    .await
}

/// The user's requests, newest first.
pub async fn list_own(
    c: &mut Conn,
    user_id: &str,
    limit: i64,
) -> Result<Vec<SupportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, category, subject, body, status, created_at, answer, answered_at FROM support_requests \
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(c)
    .await
}
