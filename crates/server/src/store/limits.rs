//! Fixed-window counters for rate limiting, and spent captcha solutions. Kept
//! in the database so that every node of a cluster sees the same counts.

use super::{Conn, Tx};
use crate::clock::Millis;

/// Adds one to the counter of `key` in the window starting at
/// `window_start` and returns the new count.
pub async fn hit(c: &mut Tx, key: &str, window_start: Millis) -> Result<i64, sqlx::Error> {
    let c: &mut Conn = c;
    let (n,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1 RETURNING count",
    )
    .bind(key)
    .bind(window_start)
    .fetch_one(c)
    .await?;
    Ok(n)
}

/// The current count of `key` in a window, without adding to it.
pub async fn peek(c: &mut Conn, key: &str, window_start: Millis) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2")
            .bind(key)
            .bind(window_start)
            .fetch_optional(c)
            .await?;
    Ok(row.map(|r| r.0).unwrap_or(0))
}

pub async fn delete_windows_before(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

/// Records a captcha solution as spent; false when it already was.
pub async fn spend_captcha(
    c: &mut Tx,
    solution_hash: &str,
    expires_at: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("INSERT INTO used_captchas (solution_hash, expires_at) VALUES ($1, $2) ON CONFLICT (solution_hash) DO NOTHING")
        .bind(solution_hash)
        .bind(expires_at)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_spent_captchas(c: &mut Tx, now: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM used_captchas WHERE expires_at < $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
