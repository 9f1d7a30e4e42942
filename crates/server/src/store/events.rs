//! The event stream: every write others should hear about is recorded here,
//! in the same transaction as the write, with a sequence number per scope
//! (`user:<id>`, `team:<id>`). Events are typed (`postroom_core::events`)
//! and stored as their kind and data. The per-scope counter row is locked by
//! the append until the transaction ends, so within a scope events commit in
//! the order of their numbers: a reader never sees number n + 1 before n.
//! The commit announces each event to the hub (see `Tx::commit`). In-app
//! notifications are derived from the stream.

use postroom_core::Stored;
use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: String,
    pub scope: String,
    pub seq: i64,
    pub actor_id: Option<String>,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
    /// What the event is about (an item's id), when it is about one thing.
    pub subject: Option<String>,
}

/// Records a typed event in `scope` (see [`append`]).
pub async fn record(
    tx: &mut Tx,
    scope: &str,
    actor_id: Option<&str>,
    event: &impl Stored,
    now: Millis,
) -> Result<EventRow, sqlx::Error> {
    let (kind, data) = event.to_stored();
    append(tx, scope, actor_id, &kind, &data, now).await
}

/// Records a typed event in `scope` about `subject` (an item's id), which
/// the activity feed follows.
pub async fn record_about(
    tx: &mut Tx,
    scope: &str,
    actor_id: Option<&str>,
    subject: &str,
    event: &impl Stored,
    now: Millis,
) -> Result<EventRow, sqlx::Error> {
    let (kind, data) = event.to_stored();
    insert(tx, scope, actor_id, Some(subject), &kind, &data, now).await
}

/// Appends an event, as its kind and data, to `scope` and returns it. The
/// per-scope counter row is locked by the upsert, so concurrent writers get
/// consecutive numbers.
pub async fn append(
    tx: &mut Tx,
    scope: &str,
    actor_id: Option<&str>,
    kind: &str,
    data: &str,
    now: Millis,
) -> Result<EventRow, sqlx::Error> {
    insert(tx, scope, actor_id, None, kind, data, now).await
}

async fn insert(
    tx: &mut Tx,
    scope: &str,
    actor_id: Option<&str>,
    subject: Option<&str>,
    kind: &str,
    data: &str,
    now: Millis,
) -> Result<EventRow, sqlx::Error> {
    let c: &mut Conn = tx;
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO scope_seqs (scope, seq) VALUES ($1, 1) \
         ON CONFLICT (scope) DO UPDATE SET seq = scope_seqs.seq + 1 RETURNING seq",
    )
    .bind(scope)
    .fetch_one(&mut *c)
    .await?;
    sqlx::query_as(
        "INSERT INTO events (id, scope, seq, actor_id, kind, data, created_at, subject) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, scope, seq, actor_id, kind, data, created_at, subject",
    )
    .bind(new_id())
    .bind(scope)
    .bind(seq)
    .bind(actor_id)
    .bind(kind)
    .bind(data)
    .bind(now)
    .bind(subject)
    .fetch_one(c)
    .await
    .inspect(|row: &EventRow| tx.recorded(row))
}

/// The number of the scope's last event; 0 when it has none.
pub async fn last_seq(c: &mut Conn, scope: &str) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT seq FROM scope_seqs WHERE scope = $1")
        .bind(scope)
        .fetch_optional(c)
        .await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Events of a scope after a cursor, oldest first.
pub async fn since(
    c: &mut Conn,
    scope: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, scope, seq, actor_id, kind, data, created_at, subject FROM events WHERE scope = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(scope)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub kind: String,
    pub message: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// Deletes a scope's whole event stream and its counter (the scope's owner
/// is being deleted).
pub async fn delete_scope(c: &mut Tx, scope: &str) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM events WHERE scope = $1")
        .bind(scope)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM scope_seqs WHERE scope = $1")
        .bind(scope)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

pub async fn insert_notification(
    c: &mut Tx,
    user_id: &str,
    event_id: &str,
    kind: &str,
    message: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("INSERT INTO notifications (id, user_id, event_id, kind, message, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new_id())
        .bind(user_id)
        .bind(event_id)
        .bind(kind)
        .bind(message)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

/// A page of notifications, newest first, older than the `before` id.
pub async fn notifications_page(
    c: &mut Conn,
    user_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, message, created_at, read_at FROM notifications \
         WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn unread_count(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    let n: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .fetch_one(c)
            .await?;
    Ok(n.0)
}

/// Marks the given notifications of `user_id` read; all of them when `ids` is `None`.
pub async fn mark_read(
    c: &mut Tx,
    user_id: &str,
    ids: Option<&[String]>,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    match ids {
        None => {
            let r = sqlx::query(
                "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
            )
            .bind(user_id)
            .bind(now)
            .execute(c)
            .await?;
            Ok(r.rows_affected())
        }
        Some(ids) => {
            let mut n = 0;
            for id in ids {
                let r = sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND id = $2 AND read_at IS NULL")
                    .bind(user_id)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                n += r.rows_affected();
            }
            Ok(n)
        }
    }
}
