//! Server-side sessions. Only a hash of each bearer token is stored.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub keep_signed_in: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_active_at: i64,
    pub expires_at: i64,
    /// What the sessions list calls it, when not by its user agent (a
    /// program signed in through the browser: "postroom CLI on ada-laptop").
    pub label: Option<String>,
}

const COLUMNS: &str =
    "id, user_id, keep_signed_in, user_agent, ip, created_at, last_active_at, expires_at, label";

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub keep_signed_in: bool,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub expires_at: Millis,
    pub label: Option<&'a str>,
}

pub async fn insert(
    c: &mut Tx,
    s: &NewSession<'_>,
    now: Millis,
) -> Result<SessionRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO sessions (id, user_id, token_hash, keep_signed_in, user_agent, ip, created_at, last_active_at, expires_at, label) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(s.id)
    .bind(s.user_id)
    .bind(s.token_hash)
    .bind(s.keep_signed_in as i64)
    .bind(s.user_agent)
    .bind(s.ip)
    .bind(now)
    .bind(s.expires_at)
    .bind(s.label)
    .fetch_one(c)
    .await
}

/// The live session for a token hash, if it has not expired.
pub async fn by_token_hash(
    c: &mut Conn,
    token_hash: &str,
    now: Millis,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM sessions WHERE token_hash = $1 AND expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Records activity: moves `last_active_at`, and the expiry to `expires_at`
/// (which the caller bounds by the session's absolute lifetime).
pub async fn touch(
    c: &mut Tx,
    id: &str,
    now: Millis,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE sessions SET last_active_at = $2, expires_at = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn list_live(
    c: &mut Conn,
    user_id: &str,
    now: Millis,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY last_active_at DESC, id"
    ))
    .bind(user_id)
    .bind(now)
    .fetch_all(c)
    .await
}

/// Deletes one of `user_id`'s sessions; false when there is no such session
/// of theirs.
pub async fn delete_own(c: &mut Tx, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes every session of the user except `keep` (when given).
pub async fn delete_all_except(
    c: &mut Tx,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

pub async fn delete_expired(c: &mut Tx, now: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
