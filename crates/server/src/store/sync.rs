//! Sync's tables (S4, S7): the change log's horizon and pruning over the
//! items scopes of `events`, the pages of a scope's items that a snapshot
//! sends, and the conflicts kept until their writer resolves them.

use sqlx::FromRow;

use super::items::{ItemRow, OwnerId, ITEM_COLUMNS};
use super::{Conn, Tx};
use crate::clock::Millis;

/// The last number pruned from `scope`'s change log (0: none).
pub async fn pruned_seq(c: &mut Conn, scope: &str) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT pruned_seq FROM scope_seqs WHERE scope = $1")
        .bind(scope)
        .fetch_optional(c)
        .await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Removes the items scopes' events recorded before `before`, noting for
/// each scope the last number removed. Returns how many went.
pub async fn prune(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "UPDATE scope_seqs SET pruned_seq = (SELECT MAX(e.seq) FROM events e \
             WHERE e.scope = scope_seqs.scope AND e.created_at < $1) \
         WHERE scope LIKE 'items:%' AND EXISTS (SELECT 1 FROM events e \
             WHERE e.scope = scope_seqs.scope AND e.created_at < $1)",
    )
    .bind(before)
    .execute(&mut *c)
    .await?;
    let r = sqlx::query("DELETE FROM events WHERE scope LIKE 'items:%' AND created_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

/// A page of an owner's live items, by id, after `after`.
pub async fn items_page(
    c: &mut Conn,
    owner: &OwnerId<'_>,
    after: &str,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (column, id) = match owner {
        OwnerId::User(id) => ("owner_user_id", *id),
        OwnerId::Team(id) => ("owner_team_id", *id),
    };
    sqlx::query_as(sql!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE {column} = $1 AND deleted_at IS NULL \
         AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(id)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct ConflictRow {
    pub id: String,
    pub item_id: String,
    pub user_id: String,
    pub base_revision: i64,
    pub theirs_revision: i64,
    /// `put` or `delete`.
    pub op: String,
    pub body: Option<String>,
    pub key_id: Option<String>,
    pub details: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolution: Option<String>,
}

const CONFLICT_COLUMNS: &str = "id, item_id, user_id, base_revision, theirs_revision, op, body, \
     key_id, details, created_at, resolved_at, resolution";

pub async fn insert_conflict(c: &mut Tx, row: &ConflictRow) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(sql!(
        "INSERT INTO conflicts ({CONFLICT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)"
    ))
    .bind(&row.id)
    .bind(&row.item_id)
    .bind(&row.user_id)
    .bind(row.base_revision)
    .bind(row.theirs_revision)
    .bind(&row.op)
    .bind(&row.body)
    .bind(&row.key_id)
    .bind(&row.details)
    .bind(row.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn conflict(c: &mut Conn, id: &str) -> Result<Option<ConflictRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(c)
    .await
}

/// A person's open conflicts, newest first.
pub async fn open_conflicts(
    c: &mut Conn,
    user_id: &str,
    limit: i64,
) -> Result<Vec<ConflictRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE user_id = $1 AND resolved_at IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(user_id)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Marks a conflict resolved; false when it already was (two devices
/// resolving at once: one wins).
pub async fn resolve_conflict(
    c: &mut Tx,
    id: &str,
    resolution: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE conflicts SET resolved_at = $2, resolution = $3 WHERE id = $1 AND resolved_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .bind(resolution)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes resolved conflicts resolved before `before`.
pub async fn purge_resolved(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM conflicts WHERE resolved_at IS NOT NULL AND resolved_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
