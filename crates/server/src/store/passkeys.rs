//! Passkeys (`passkeys`) and the WebAuthn ceremonies under way
//! (`passkey_ceremonies`). A ceremony is taken by deleting its row, so two
//! uses of one ceremony cannot both get its state.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub name: String,
    /// The verifier's record of the credential, as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str =
    "id, user_id, credential_id, name, credential, sign_count, created_at, last_used_at";

pub struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
}

/// Adds a passkey; a credential id already registered (to anyone) breaks
/// `passkeys_credential_id`.
pub async fn insert(
    c: &mut Tx,
    p: &NewPasskey<'_>,
    now: Millis,
) -> Result<PasskeyRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(p.id)
    .bind(p.user_id)
    .bind(p.credential_id)
    .bind(p.name)
    .bind(p.credential)
    .bind(p.sign_count)
    .bind(now)
    .fetch_one(c)
    .await
}

/// An account's passkeys, oldest first.
pub async fn list(c: &mut Conn, user_id: &str) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(c)
    .await
}

pub async fn count(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await
}

/// The passkey with this credential id, whoever's it is.
pub async fn by_credential_id(
    c: &mut Conn,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"
    ))
    .bind(credential_id)
    .fetch_optional(c)
    .await
}

/// Records a sign-in with a passkey: its new record and counter, and when.
/// A counter lower than the stored one (a concurrent sign-in got there
/// first) leaves the record as it is and only notes the use.
pub async fn record_use(
    c: &mut Tx,
    id: &str,
    credential: &str,
    sign_count: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "UPDATE passkeys SET \
           credential = CASE WHEN sign_count <= $3 THEN $2 ELSE credential END, \
           sign_count = CASE WHEN sign_count <= $3 THEN $3 ELSE sign_count END, \
           last_used_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(credential)
    .bind(sign_count)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// Renames one of `user_id`'s passkeys; false when there is no such passkey
/// of theirs.
pub async fn rename(c: &mut Tx, user_id: &str, id: &str, name: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .bind(name)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes one of `user_id`'s passkeys and answers its name; `None` when
/// there is no such passkey of theirs.
pub async fn delete(c: &mut Tx, user_id: &str, id: &str) -> Result<Option<String>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_scalar("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct CeremonyRow {
    pub kind: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    /// The verifier's state, as JSON.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct NewCeremony<'a> {
    pub id_hash: &'a str,
    pub kind: &'a str,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub state: &'a str,
    pub expires_at: Millis,
}

pub async fn insert_ceremony(
    c: &mut Tx,
    n: &NewCeremony<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO passkey_ceremonies (id_hash, kind, user_id, session_id, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(n.id_hash)
    .bind(n.kind)
    .bind(n.user_id)
    .bind(n.session_id)
    .bind(n.state)
    .bind(now)
    .bind(n.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Takes the ceremony with this id hash: it is deleted whatever it turns out
/// to be (expired, of another kind, someone else's), so it serves once.
pub async fn take_ceremony(c: &mut Tx, id_hash: &str) -> Result<Option<CeremonyRow>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(
        "DELETE FROM passkey_ceremonies WHERE id_hash = $1 \
         RETURNING kind, user_id, session_id, state, created_at, expires_at",
    )
    .bind(id_hash)
    .fetch_optional(c)
    .await
}

/// Deletes ceremonies that expired before `before`.
pub async fn delete_expired_ceremonies(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
