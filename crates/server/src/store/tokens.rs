//! Single-use links sent by mail: email confirmation, password reset, email
//! change. Only a hash of each token is stored.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct UsedToken {
    pub user_id: String,
    pub new_email: Option<String>,
}

pub async fn insert(
    c: &mut Tx,
    token_hash: &str,
    user_id: &str,
    purpose: Purpose,
    new_email: Option<&str>,
    now: Millis,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO user_tokens (token_hash, user_id, purpose, new_email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(new_email)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Marks a live, unused token used and returns what it was for; `None` when
/// it is unknown, used, expired or for another purpose. The update is the
/// check, so two concurrent uses cannot both succeed.
pub async fn consume(
    c: &mut Tx,
    token_hash: &str,
    purpose: Purpose,
    now: Millis,
) -> Result<Option<UsedToken>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(
        "UPDATE user_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING user_id, new_email",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Voids the user's other unused tokens of a purpose (a new reset link
/// replaces the old one).
pub async fn void_unused(
    c: &mut Tx,
    user_id: &str,
    purpose: Purpose,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE user_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

/// Voids every unused link of the user, whatever it is for: a change of
/// password or email ends the links mailed before it.
pub async fn void_all_unused(c: &mut Tx, user_id: &str, now: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r =
        sqlx::query("UPDATE user_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await?;
    Ok(r.rows_affected())
}

pub async fn delete_stale(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM user_tokens WHERE expires_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

/// What a live, unused token is for, without using it up.
pub async fn peek(
    c: &mut Conn,
    token_hash: &str,
    purpose: Purpose,
    now: Millis,
) -> Result<Option<UsedToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, new_email FROM user_tokens \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(c)
    .await
}
