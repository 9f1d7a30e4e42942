//! Programs' requests to sign in through the browser (`oauth_requests`):
//! authorization code requests and device requests, with their codes stored
//! only as hashes. Every change of a request's status is one conditional
//! `UPDATE`, so two concurrent decisions or exchanges cannot both succeed.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

/// A request from `/oauth/authorize`.
pub const KIND_CODE: &str = "code";
/// A request from `/oauth/device`.
pub const KIND_DEVICE: &str = "device";

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the person's decision.
    Pending,
    Approved,
    Denied,
    /// Its token was issued: it is spent.
    Used,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Used => "used",
        }
    }

    /// The status a row holds; an unknown one (from a newer version) reads
    /// as spent, which nothing can use.
    pub fn parse(s: &str) -> Status {
        match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "denied" => Status::Denied,
            _ => Status::Used,
        }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct OAuthRequestRow {
    pub id: String,
    pub kind: String,
    pub client_id: String,
    pub device_name: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub state: Option<String>,
    pub user_id: Option<String>,
    pub status: String,
    pub session_id: Option<String>,
    pub interval_secs: i64,
    pub last_polled_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl OAuthRequestRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status)
    }
}

const COLUMNS: &str =
    "id, kind, client_id, device_name, redirect_uri, code_challenge, state, user_id, \
     status, session_id, interval_secs, last_polled_at, created_at, expires_at";

/// An authorization code request, shown to `user_id` on the consent page.
pub struct NewCodeRequest<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub device_name: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub state: Option<&'a str>,
    pub user_id: &'a str,
    pub expires_at: Millis,
}

pub async fn insert_code_request(
    c: &mut Tx,
    r: &NewCodeRequest<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO oauth_requests (id, kind, client_id, device_name, redirect_uri, code_challenge, state, user_id, status, interval_secs, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)",
    )
    .bind(r.id)
    .bind(KIND_CODE)
    .bind(r.client_id)
    .bind(r.device_name)
    .bind(r.redirect_uri)
    .bind(r.code_challenge)
    .bind(r.state)
    .bind(r.user_id)
    .bind(Status::Pending.as_str())
    .bind(now)
    .bind(r.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// A device request: the program polls with the device code, the person
/// enters the user code.
pub struct NewDeviceRequest<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub device_name: Option<&'a str>,
    pub device_code_hash: &'a str,
    pub user_code_hash: &'a str,
    pub interval_secs: i64,
    pub expires_at: Millis,
}

/// Fails with a unique violation of `oauth_requests_user_code_hash` when
/// another request holds the same user code (the caller draws another).
pub async fn insert_device_request(
    c: &mut Tx,
    r: &NewDeviceRequest<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO oauth_requests (id, kind, client_id, device_name, device_code_hash, user_code_hash, status, interval_secs, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(r.id)
    .bind(KIND_DEVICE)
    .bind(r.client_id)
    .bind(r.device_name)
    .bind(r.device_code_hash)
    .bind(r.user_code_hash)
    .bind(Status::Pending.as_str())
    .bind(r.interval_secs)
    .bind(now)
    .bind(r.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

async fn by_column(
    c: &mut Conn,
    column: &'static str,
    value: &str,
) -> Result<Option<OAuthRequestRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM oauth_requests WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(c)
    .await
}

/// A request by its id, whatever its status or expiry.
pub async fn by_id(c: &mut Conn, id: &str) -> Result<Option<OAuthRequestRow>, sqlx::Error> {
    by_column(c, "id", id).await
}

/// The request an authorization code was issued for.
pub async fn by_code_hash(
    c: &mut Conn,
    code_hash: &str,
) -> Result<Option<OAuthRequestRow>, sqlx::Error> {
    by_column(c, "code_hash", code_hash).await
}

pub async fn by_device_code_hash(
    c: &mut Conn,
    device_code_hash: &str,
) -> Result<Option<OAuthRequestRow>, sqlx::Error> {
    by_column(c, "device_code_hash", device_code_hash).await
}

pub async fn by_user_code_hash(
    c: &mut Conn,
    user_code_hash: &str,
) -> Result<Option<OAuthRequestRow>, sqlx::Error> {
    by_column(c, "user_code_hash", user_code_hash).await
}

/// Decides a pending, unexpired request for `user_id`: approved (with the
/// hash of its authorization code, for a code request) or denied. A request
/// already bound to another account is left alone. False when nothing was
/// decided (decided before, expired, or another account's).
pub async fn decide(
    c: &mut Tx,
    id: &str,
    user_id: &str,
    approved: bool,
    code_hash: Option<&str>,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let status = if approved {
        Status::Approved
    } else {
        Status::Denied
    };
    let r = sqlx::query(
        "UPDATE oauth_requests SET status = $3, user_id = $2, code_hash = $4 \
         WHERE id = $1 AND status = $5 AND expires_at > $6 AND (user_id IS NULL OR user_id = $2)",
    )
    .bind(id)
    .bind(user_id)
    .bind(status.as_str())
    .bind(code_hash)
    .bind(Status::Pending.as_str())
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a device's poll of a pending request, and the interval it must
/// keep from now on.
pub async fn polled(
    c: &mut Tx,
    id: &str,
    now: Millis,
    interval_secs: i64,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE oauth_requests SET last_polled_at = $2, interval_secs = $3 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(interval_secs)
        .execute(c)
        .await
        .map(|_| ())
}

/// Spends an approved, unexpired request on the session issued for it.
/// False when it is not (anymore) approved: another exchange came first.
pub async fn claim(
    c: &mut Tx,
    id: &str,
    session_id: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE oauth_requests SET status = $2, session_id = $3 \
         WHERE id = $1 AND status = $4 AND expires_at > $5",
    )
    .bind(id)
    .bind(Status::Used.as_str())
    .bind(session_id)
    .bind(Status::Approved.as_str())
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Denies every undecided or approved, unspent request of the account (its
/// password changed: what it approved before must not sign anyone in).
pub async fn void_for_user(c: &mut Tx, user_id: &str) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE oauth_requests SET status = $2 WHERE user_id = $1 AND status IN ($3, $4)",
    )
    .bind(user_id)
    .bind(Status::Denied.as_str())
    .bind(Status::Pending.as_str())
    .bind(Status::Approved.as_str())
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes requests that expired before `before`.
pub async fn delete_expired(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM oauth_requests WHERE expires_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}
