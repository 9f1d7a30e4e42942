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
}

const COLUMNS: &str = "id, user_id, name, prefix, scopes, created_at, last_used_at";

pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a str,
}

pub async fn insert(c: &mut Tx, k: &NewApiKey<'_>, now: Millis) -> Result<ApiKeyRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(k.id)
    .bind(k.user_id)
    .bind(k.name)
    .bind(k.prefix)
    .bind(k.key_hash)
    .bind(k.scopes)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn by_hash(c: &mut Conn, key_hash: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(key_hash)
    .fetch_optional(c)
    .await
}

pub async fn list_active(c: &mut Conn, user_id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id"
    ))
    .bind(user_id)
    .fetch_all(c)
    .await
}

pub async fn count_active(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    let n: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
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

pub async fn touch(c: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}
