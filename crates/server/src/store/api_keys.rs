//! Personal API keys. Only a hash of each key is stored.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, name, prefix, scopes, created_at, last_used_at, expires_at";

pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a str,
    /// `None`: the key works until it is revoked.
    pub expires_at: Option<Millis>,
}

pub async fn insert(c: &mut Tx, k: &NewApiKey<'_>, now: Millis) -> Result<ApiKeyRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(k.id)
    .bind(k.user_id)
    .bind(k.name)
    .bind(k.prefix)
    .bind(k.key_hash)
    .bind(k.scopes)
    .bind(now)
    .bind(k.expires_at)
    .fetch_one(c)
    .await
}

/// The live key with this hash: not revoked and not expired.
pub async fn by_hash(
    c: &mut Conn,
    key_hash: &str,
    now: Millis,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)"
    ))
    .bind(key_hash)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Keys not revoked, expired ones included (the list shows them as expired).
pub async fn list_active(c: &mut Conn, user_id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(c)
    .await
}

/// Keys that still work: neither revoked nor expired.
pub async fn count_active(c: &mut Conn, user_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    let n: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(c)
    .await?;
    Ok(n.0)
}

/// Revokes one of `user_id`'s keys; false when there is no such live key of theirs.
pub async fn revoke_own(
    c: &mut Tx,
    user_id: &str,
    id: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every key of the user (a password change or reset); returns how
/// many were live.
pub async fn revoke_all(c: &mut Tx, user_id: &str, now: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

pub async fn touch(c: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}
