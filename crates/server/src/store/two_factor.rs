//! Two-step verification (A10): TOTP secrets (sealed), recovery codes and
//! sign-ins waiting for their second step. Codes and challenge tokens are
//! stored as hashes only.

use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct TotpRow {
    pub user_id: String,
    /// Sealed under the person's data key (`key_id`).
    pub secret: String,
    pub key_id: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
    pub created_at: i64,
}

const TOTP_COLUMNS: &str = "user_id, secret, key_id, confirmed_at, last_step, created_at";

pub async fn totp(c: &mut Conn, user_id: &str) -> Result<Option<TotpRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {TOTP_COLUMNS} FROM user_totp WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(c)
    .await
}

/// Whether the person has two-step verification turned on.
pub async fn enabled(c: &mut Conn, user_id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(c)
            .await?;
    Ok(row.is_some())
}

/// Begins (or begins again) setting up TOTP with a new secret; a secret
/// already confirmed is never replaced here.
pub async fn put_pending(
    c: &mut Tx,
    user_id: &str,
    secret: &str,
    key_id: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "INSERT INTO user_totp (user_id, secret, key_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, key_id = excluded.key_id, \
         created_at = excluded.created_at, last_step = 0 \
         WHERE user_totp.confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(secret)
    .bind(key_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Turns TOTP on, remembering the step of the code that confirmed it.
pub async fn confirm(
    c: &mut Tx,
    user_id: &str,
    step: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE user_totp SET confirmed_at = $2, last_step = $3 \
         WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .bind(step)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Accepts the code of `step` once: false when a code of this step or a
/// later one was accepted already.
pub async fn use_step(c: &mut Tx, user_id: &str, step: i64) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2 \
         AND confirmed_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(step)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Turns two-step verification off: the secret and the recovery codes go.
pub async fn delete(c: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    let r = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces the person's recovery codes with these (hashes).
pub async fn replace_recovery_codes(
    c: &mut Tx,
    user_id: &str,
    hashes: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Spends a recovery code: true when it was the person's and unused.
pub async fn use_recovery_code(
    c: &mut Tx,
    user_id: &str,
    hash: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How many unused recovery codes the person has left.
pub async fn recovery_codes_left(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(c)
    .await?;
    Ok(n)
}

#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    pub id: String,
    pub user_id: String,
    pub keep_signed_in: i64,
    pub failures: i64,
    pub expires_at: i64,
}

pub async fn insert_challenge(
    c: &mut Tx,
    token_hash: &str,
    user_id: &str,
    keep_signed_in: bool,
    now: Millis,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO sign_in_challenges (id, token_hash, user_id, keep_signed_in, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(token_hash)
    .bind(user_id)
    .bind(keep_signed_in as i64)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The live challenge for a token hash.
pub async fn challenge(
    c: &mut Conn,
    token_hash: &str,
    now: Millis,
) -> Result<Option<ChallengeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, keep_signed_in, failures, expires_at FROM sign_in_challenges \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Counts a wrong code against the challenge; returns the failures so far.
pub async fn challenge_failed(c: &mut Tx, id: &str) -> Result<i64, sqlx::Error> {
    let c: &mut Conn = c;
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE sign_in_challenges SET failures = failures + 1 WHERE id = $1 RETURNING failures",
    )
    .bind(id)
    .fetch_optional(c)
    .await?;
    Ok(row.map_or(i64::MAX, |(n,)| n))
}

/// Ends a challenge (passed, or failed too often); false when it was gone
/// already, so that two tries at once begin one session at most.
pub async fn delete_challenge(c: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM sign_in_challenges WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_expired_challenges(c: &mut Tx, now: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
