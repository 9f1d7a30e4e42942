//! Avatar images, already re-encoded by the server.

use super::{Conn, Tx};
use crate::clock::Millis;

pub async fn put(
    c: &mut Tx,
    user_id: &str,
    content_type: &str,
    data: &[u8],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO avatars (user_id, content_type, data, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(content_type)
    .bind(data)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get(c: &mut Conn, user_id: &str) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT content_type, data FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(c)
        .await
}

pub async fn delete(c: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}
