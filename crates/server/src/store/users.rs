//! Accounts and their profile fields.

use sqlx::FromRow;

use super::{new_id, Backend, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub links: String,
    pub profile_public: i64,
    pub usage: Option<String>,
    pub notification_prefs: String,
    pub avatar_version: Option<i64>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<i64>,
    /// Locks in a row since the last successful sign-in.
    pub lockouts: i64,
    pub onboarded_at: Option<i64>,
    pub created_at: i64,
    /// Made an operator from the command line.
    pub operator: i64,
    /// Disabled by an operator: it cannot sign in.
    pub disabled_at: Option<i64>,
}

const COLUMNS: &str = "id, username, email, email_verified_at, password_hash, display_name, bio, links, \
     profile_public, usage, notification_prefs, avatar_version, failed_sign_ins, locked_until, lockouts, onboarded_at, created_at, operator, disabled_at";

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    pub password_hash: &'a str,
}

/// Locks the account's row until the transaction ends, so that nothing new
/// can point at it meanwhile (on PostgreSQL a new row referencing it waits;
/// on SQLite the transaction already holds the only write lock).
pub async fn lock_for_deletion(c: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let backend = c.backend();
    let c: &mut Conn = c;
    let sql = match backend {
        Backend::Postgres => "SELECT id FROM users WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT id FROM users WHERE id = $1",
    };
    let row: Option<(String,)> = sqlx::query_as(sql).bind(id).fetch_optional(c).await?;
    Ok(row.is_some())
}

/// Deletes an account; its sessions, tokens, keys, devices, avatar,
/// notifications, memberships and support requests go with it (their rows
/// cascade), and every node's cache forgets it.
pub async fn delete(c: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn insert(c: &mut Tx, u: &NewUser<'_>, now: Millis) -> Result<UserRow, sqlx::Error> {
    let c: &mut Conn = c;
    let sql = sql!(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, terms_accepted_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sql)
        .bind(new_id())
        .bind(u.username)
        .bind(u.username_key)
        .bind(u.email)
        .bind(u.email_key)
        .bind(u.password_hash)
        .bind(now)
        .fetch_one(c)
        .await
}

pub async fn by_id(c: &mut Conn, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn by_email_key(c: &mut Conn, email_key: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM users WHERE email_key = $1"))
        .bind(email_key)
        .fetch_optional(c)
        .await
}

pub async fn by_username_key(
    c: &mut Conn,
    username_key: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM users WHERE username_key = $1"))
        .bind(username_key)
        .fetch_optional(c)
        .await
}

pub async fn mark_email_verified(c: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn set_password_hash(
    c: &mut Tx,
    id: &str,
    hash: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET password_hash = $2, failed_sign_ins = 0, locked_until = NULL, lockouts = 0, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn set_username(
    c: &mut Tx,
    id: &str,
    username: &str,
    key: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET username = $2, username_key = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(username)
        .bind(key)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

/// Replaces the address; a confirmed change means the new one is verified.
pub async fn set_email(
    c: &mut Tx,
    id: &str,
    email: &str,
    key: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET email = $2, email_key = $3, email_verified_at = $4, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(email)
        .bind(key)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub struct ProfileFields<'a> {
    pub display_name: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub links_json: &'a str,
    pub profile_public: bool,
    pub usage: Option<&'a str>,
}

pub async fn set_profile(
    c: &mut Tx,
    id: &str,
    p: &ProfileFields<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query(
        "UPDATE users SET display_name = $2, bio = $3, links = $4, profile_public = $5, usage = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(p.display_name)
    .bind(p.bio)
    .bind(p.links_json)
    .bind(p.profile_public as i64)
    .bind(p.usage)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn set_notification_prefs(
    c: &mut Tx,
    id: &str,
    prefs_json: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET notification_prefs = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(prefs_json)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn set_avatar_version(
    c: &mut Tx,
    id: &str,
    version: Option<i64>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET avatar_version = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(version)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

/// Counts a failed sign-in and returns the new count of failures in a row
/// and the number of locks in a row before it. On PostgreSQL the update
/// holds the row until the transaction ends, so a [`lock`] that follows in
/// the same transaction decides on what it returned.
pub async fn record_failed_sign_in(c: &mut Tx, id: &str) -> Result<(i64, i64), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query_as(
        "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1 \
         RETURNING failed_sign_ins, lockouts",
    )
    .bind(id)
    .fetch_one(c)
    .await
}

/// Locks the account until `until`: the failures in a row start again from
/// zero, and the lock counts towards the length of the next one.
pub async fn lock(c: &mut Tx, id: &str, until: Millis) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query(
        "UPDATE users SET failed_sign_ins = 0, lockouts = lockouts + 1, locked_until = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(until)
    .execute(c)
    .await
    .map(|_| ())
}

/// A successful sign-in ends a run of failures and of locks.
pub async fn clear_failed_sign_ins(c: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query(
        "UPDATE users SET failed_sign_ins = 0, locked_until = NULL, lockouts = 0 WHERE id = $1 \
         AND (failed_sign_ins <> 0 OR locked_until IS NOT NULL OR lockouts <> 0)",
    )
    .bind(id)
    .execute(c)
    .await
    .map(|_| ())
}

/// Remembers a device for "new sign-in" notices; true when it was new.
pub async fn remember_device(
    c: &mut Tx,
    user_id: &str,
    device_hash: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "INSERT INTO known_devices (user_id, device_hash, first_seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, device_hash) DO NOTHING",
    )
    .bind(user_id)
    .bind(device_hash)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether the account has ever signed in from any device.
pub async fn has_devices(c: &mut Conn, user_id: &str) -> Result<bool, sqlx::Error> {
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM known_devices WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await?;
    Ok(n.0 > 0)
}

/// Records that the person finished or skipped onboarding.
pub async fn mark_onboarded(c: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    c.changed(id);
    let c: &mut Conn = c;
    sqlx::query("UPDATE users SET onboarded_at = COALESCE(onboarded_at, $2) WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}
