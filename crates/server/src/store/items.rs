//! Workspace items and their revisions, public links and subscriptions.
//! An item row holds what lists need (kind, owner, name, current revision,
//! who changed it when); the documents are in `item_revisions`, one row per
//! revision, the current one included, so a write adds one row and moves
//! the item's `revision` to it.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    pub id: String,
    pub kind: String,
    pub owner_user_id: Option<String>,
    pub owner_team_id: Option<String>,
    pub name: String,
    pub revision: i64,
    pub size: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_by: Option<String>,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub deleted_by: Option<String>,
}

pub(crate) const ITEM_COLUMNS: &str =
    "id, kind, owner_user_id, owner_team_id, name, revision, size, \
     created_by, created_at, updated_by, updated_at, deleted_at, deleted_by";

/// A document as stored: JSON text, or sealed (base64) under `key_id`.
#[derive(Debug, Clone, FromRow)]
pub struct BodyRow {
    pub body: String,
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct RevisionRow {
    pub revision: i64,
    pub size: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// Whose an item is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerId<'a> {
    User(&'a str),
    Team(&'a str),
}

impl OwnerId<'_> {
    fn columns(&self) -> (Option<&str>, Option<&str>) {
        match self {
            OwnerId::User(id) => (Some(id), None),
            OwnerId::Team(id) => (None, Some(id)),
        }
    }
}

pub struct NewItem<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub owner: OwnerId<'a>,
    pub name: &'a str,
    pub body: &'a str,
    pub key_id: Option<&'a str>,
    pub by: &'a str,
}

/// Inserts an item at revision 1.
pub async fn insert(c: &mut Tx, item: &NewItem<'_>, now: Millis) -> Result<ItemRow, sqlx::Error> {
    let c: &mut Conn = c;
    let (user, team) = item.owner.columns();
    let size = item.body.len() as i64;
    let row = sqlx::query_as(sql!(
        "INSERT INTO items (id, kind, owner_user_id, owner_team_id, name, revision, size, created_by, created_at, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $7, $8) RETURNING {ITEM_COLUMNS}"
    ))
    .bind(item.id)
    .bind(item.kind)
    .bind(user)
    .bind(team)
    .bind(item.name)
    .bind(size)
    .bind(item.by)
    .bind(now)
    .fetch_one(&mut *c)
    .await?;
    insert_revision(c, item.id, 1, item.body, item.key_id, item.by, now).await?;
    Ok(row)
}

async fn insert_revision(
    c: &mut Conn,
    item_id: &str,
    revision: i64,
    body: &str,
    key_id: Option<&str>,
    by: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO item_revisions (item_id, revision, body, key_id, size, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(item_id)
    .bind(revision)
    .bind(body)
    .bind(key_id)
    .bind(body.len() as i64)
    .bind(by)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// The item, live or deleted.
pub async fn by_id(c: &mut Conn, id: &str) -> Result<Option<ItemRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {ITEM_COLUMNS} FROM items WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The item, locked until the transaction ends (writes read the current
/// revision under it, so two writers never both build on the same one).
pub async fn lock(c: &mut Tx, id: &str) -> Result<Option<ItemRow>, sqlx::Error> {
    let lock = match c.backend() {
        super::Backend::Postgres => " FOR UPDATE",
        super::Backend::Sqlite => "",
    };
    let c: &mut Conn = c;
    sqlx::query_as(sql!("SELECT {ITEM_COLUMNS} FROM items WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The one item of a kind an owner has (their globals), live or deleted.
pub async fn singleton(
    c: &mut Conn,
    kind: &str,
    owner: &OwnerId<'_>,
) -> Result<Option<ItemRow>, sqlx::Error> {
    let (user, team) = owner.columns();
    sqlx::query_as(sql!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE kind = $1 \
         AND (owner_user_id = $2 OR owner_team_id = $3) ORDER BY created_at LIMIT 1"
    ))
    .bind(kind)
    .bind(user.unwrap_or(""))
    .bind(team.unwrap_or(""))
    .fetch_optional(c)
    .await
}

/// A revision's document.
pub async fn body(
    c: &mut Conn,
    item_id: &str,
    revision: i64,
) -> Result<Option<BodyRow>, sqlx::Error> {
    sqlx::query_as("SELECT body, key_id FROM item_revisions WHERE item_id = $1 AND revision = $2")
        .bind(item_id)
        .bind(revision)
        .fetch_optional(c)
        .await
}

/// Writes a new revision (the current one + 1) and makes it current.
pub async fn update(
    c: &mut Tx,
    item: &ItemRow,
    name: &str,
    body: &str,
    key_id: Option<&str>,
    by: &str,
    now: Millis,
) -> Result<ItemRow, sqlx::Error> {
    let c: &mut Conn = c;
    let revision = item.revision + 1;
    insert_revision(c, &item.id, revision, body, key_id, by, now).await?;
    sqlx::query_as(sql!(
        "UPDATE items SET name = $2, revision = $3, size = $4, updated_by = $5, updated_at = $6 \
         WHERE id = $1 RETURNING {ITEM_COLUMNS}"
    ))
    .bind(&item.id)
    .bind(name)
    .bind(revision)
    .bind(body.len() as i64)
    .bind(by)
    .bind(now)
    .fetch_one(c)
    .await
}

/// Marks an item deleted (`at` set) or live again (`at` none).
pub async fn set_deleted(
    c: &mut Tx,
    id: &str,
    at: Option<Millis>,
    by: Option<&str>,
) -> Result<ItemRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "UPDATE items SET deleted_at = $2, deleted_by = $3 WHERE id = $1 RETURNING {ITEM_COLUMNS}"
    ))
    .bind(id)
    .bind(at)
    .bind(by)
    .fetch_one(c)
    .await
}

/// Gives an item to another owner.
pub async fn set_owner(
    c: &mut Tx,
    id: &str,
    owner: &OwnerId<'_>,
    by: &str,
    now: Millis,
) -> Result<ItemRow, sqlx::Error> {
    let c: &mut Conn = c;
    let (user, team) = owner.columns();
    sqlx::query_as(sql!(
        "UPDATE items SET owner_user_id = $2, owner_team_id = $3, updated_by = $4, updated_at = $5 \
         WHERE id = $1 RETURNING {ITEM_COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .bind(team)
    .bind(by)
    .bind(now)
    .fetch_one(c)
    .await
}

/// Which items a list shows.
pub struct ListFilter<'a> {
    pub kind: &'a str,
    /// The viewer: their private items are included when `private`.
    pub user_id: &'a str,
    pub private: bool,
    /// The teams whose items are included.
    pub team_ids: &'a [String],
    pub deleted: bool,
    /// Items after this position (`updated_at`, `id`), newest first.
    pub after: Option<(i64, &'a str)>,
    pub limit: i64,
}

/// A page of items, most recently changed first.
pub async fn list(c: &mut Conn, f: &ListFilter<'_>) -> Result<Vec<ItemRow>, sqlx::Error> {
    let mut owners = Vec::new();
    if f.private {
        owners.push("owner_user_id = $2".to_owned());
    }
    // Team ids are ours (read from the membership table), never the
    // client's, but they are bound all the same.
    let first_team = 6;
    if !f.team_ids.is_empty() {
        let marks: Vec<String> = (0..f.team_ids.len())
            .map(|i| format!("${}", first_team + i))
            .collect();
        owners.push(format!("owner_team_id IN ({})", marks.join(", ")));
    }
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let deleted = if f.deleted {
        "deleted_at IS NOT NULL"
    } else {
        "deleted_at IS NULL"
    };
    let after = if f.after.is_some() {
        "AND (updated_at < $3 OR (updated_at = $3 AND id < $4))"
    } else {
        "AND $3 = $3 AND $4 = $4"
    };
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE kind = $1 AND ({}) AND {deleted} {after} \
         ORDER BY updated_at DESC, id DESC LIMIT $5",
        owners.join(" OR ")
    );
    let (after_at, after_id) = f.after.unwrap_or((0, ""));
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(f.kind)
        .bind(f.user_id)
        .bind(after_at)
        .bind(after_id)
        .bind(f.limit);
    for id in f.team_ids {
        q = q.bind(id);
    }
    q.fetch_all(c).await
}

/// A page of an item's revisions, newest first, older than `before`.
pub async fn revisions(
    c: &mut Conn,
    item_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<RevisionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision, size, created_by, created_at FROM item_revisions \
         WHERE item_id = $1 AND revision < $2 ORDER BY revision DESC LIMIT $3",
    )
    .bind(item_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Deletes for good the items deleted before `before`, with their
/// revisions, links and subscriptions; returns how many.
pub async fn purge_deleted(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("DELETE FROM items WHERE deleted_at IS NOT NULL AND deleted_at < $1")
        .bind(before)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
}

// Subscriptions (S3).

pub async fn subscribe(
    c: &mut Tx,
    user_id: &str,
    item_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO subscriptions (user_id, item_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, item_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(item_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn unsubscribe(c: &mut Tx, user_id: &str, item_id: &str) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("DELETE FROM subscriptions WHERE user_id = $1 AND item_id = $2")
        .bind(user_id)
        .bind(item_id)
        .execute(c)
        .await
        .map(|_| ())
}

/// Which of `item_ids` the person follows.
pub async fn subscribed_among(
    c: &mut Conn,
    user_id: &str,
    item_ids: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    if item_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..item_ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT item_id FROM subscriptions WHERE user_id = $1 AND item_id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql)).bind(user_id);
    for id in item_ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(c).await?.into_iter().map(|r| r.0).collect())
}

// Public links (S2).

#[derive(Debug, Clone, FromRow)]
pub struct LinkRow {
    pub id: String,
    pub item_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const LINK_COLUMNS: &str = "id, item_id, created_by, created_at, revoked_at";

pub async fn insert_link(
    c: &mut Tx,
    id: &str,
    item_id: &str,
    by: &str,
    now: Millis,
) -> Result<LinkRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO links (id, item_id, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING {LINK_COLUMNS}"
    ))
    .bind(id)
    .bind(item_id)
    .bind(by)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn link(c: &mut Conn, id: &str) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {LINK_COLUMNS} FROM links WHERE id = $1 AND revoked_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Live links made by `user_id`, or to the items of `team_ids`, newest first.
pub async fn links_for(
    c: &mut Conn,
    user_id: &str,
    team_ids: &[String],
) -> Result<Vec<LinkRow>, sqlx::Error> {
    let mut sql =
        format!("SELECT {LINK_COLUMNS} FROM links WHERE revoked_at IS NULL AND (created_by = $1");
    if !team_ids.is_empty() {
        let marks: Vec<String> = (0..team_ids.len()).map(|i| format!("${}", i + 2)).collect();
        sql.push_str(&format!(
            " OR item_id IN (SELECT id FROM items WHERE owner_team_id IN ({}))",
            marks.join(", ")
        ));
    }
    sql.push_str(") ORDER BY created_at DESC, id DESC LIMIT 1000");
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id);
    for id in team_ids {
        q = q.bind(id);
    }
    q.fetch_all(c).await
}

pub async fn revoke_link(c: &mut Tx, id: &str, now: Millis) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE links SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// Live links to an item.
pub async fn count_links(c: &mut Conn, item_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM links WHERE item_id = $1 AND revoked_at IS NULL")
            .bind(item_id)
            .fetch_one(c)
            .await?;
    Ok(n)
}

// The activity feed (S3).

#[derive(Debug, Clone, FromRow)]
pub struct FeedRow {
    pub id: String,
    pub scope: String,
    pub actor_id: Option<String>,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
    pub subject: String,
}

/// Events about the items `user_id` follows and may still see (theirs, or
/// of a team where they hold a seat), recorded where they may see them now
/// (not what happened to an item while it was someone's private item),
/// newest first, before the event (`created_at`, `id`).
pub async fn feed(
    c: &mut Conn,
    user_id: &str,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<FeedRow>, sqlx::Error> {
    let before_clause = if before.is_some() {
        "(e.created_at < $2 OR (e.created_at = $2 AND e.id < $3))"
    } else {
        "$2 = $2 AND $3 = $3"
    };
    let (at, id) = before.unwrap_or((0, ""));
    sqlx::query_as(sql!(
        "SELECT e.id, e.scope, e.actor_id, e.kind, e.data, e.created_at, e.subject \
         FROM events e \
         JOIN subscriptions s ON s.item_id = e.subject AND s.user_id = $1 \
         JOIN items i ON i.id = e.subject \
         WHERE (i.owner_user_id = $1 OR i.owner_team_id IN \
                (SELECT team_id FROM team_members WHERE user_id = $1 AND support_only = 0)) \
           AND (e.scope = 'items:user:' || $1 OR e.scope IN \
                (SELECT 'items:team:' || team_id FROM team_members WHERE user_id = $1 AND support_only = 0)) \
           AND {before_clause} \
         ORDER BY e.created_at DESC, e.id DESC LIMIT $4"
    ))
    .bind(user_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(c)
    .await
}

// Data keys (S8).

#[derive(Debug, Clone, FromRow)]
pub struct DataKeyRow {
    pub id: String,
    pub wrapped: String,
    pub wrapped_by: String,
}

/// The owner's newest data key.
pub async fn data_key(
    c: &mut Conn,
    owner: &OwnerId<'_>,
) -> Result<Option<DataKeyRow>, sqlx::Error> {
    let (user, team) = owner.columns();
    sqlx::query_as(
        "SELECT id, wrapped, wrapped_by FROM data_keys \
         WHERE owner_user_id = $1 OR owner_team_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(user.unwrap_or(""))
    .bind(team.unwrap_or(""))
    .fetch_optional(c)
    .await
}

pub async fn data_key_by_id(c: &mut Conn, id: &str) -> Result<Option<DataKeyRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, wrapped, wrapped_by FROM data_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await
}

/// Any one data key, to check at start that the key-encryption key opens it.
pub async fn any_data_key(c: &mut Conn) -> Result<Option<DataKeyRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, wrapped, wrapped_by FROM data_keys ORDER BY created_at LIMIT 1")
        .fetch_optional(c)
        .await
}

pub async fn insert_data_key(
    c: &mut Tx,
    id: &str,
    owner: &OwnerId<'_>,
    wrapped: &str,
    wrapped_by: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    let (user, team) = owner.columns();
    sqlx::query(
        "INSERT INTO data_keys (id, owner_user_id, owner_team_id, wrapped, wrapped_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user)
    .bind(team)
    .bind(wrapped)
    .bind(wrapped_by)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}
