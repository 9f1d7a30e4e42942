//! OpenID Connect (A2, A7): identities linked to accounts
//! (`oidc_identities`), sign-ins under way (`oidc_requests`, taken once by
//! one `DELETE ... RETURNING`) and teams' own providers (`team_sso`).

use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const IDENTITY_COLUMNS: &str = "id, user_id, provider, subject, email, created_at, last_used_at";

pub async fn identity(
    c: &mut Conn,
    provider: &str,
    subject: &str,
) -> Result<Option<IdentityRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {IDENTITY_COLUMNS} FROM oidc_identities WHERE provider = $1 AND subject = $2"
    ))
    .bind(provider)
    .bind(subject)
    .fetch_optional(c)
    .await
}

/// An account's identities, oldest first.
pub async fn identities(c: &mut Conn, user_id: &str) -> Result<Vec<IdentityRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {IDENTITY_COLUMNS} FROM oidc_identities WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(c)
    .await
}

pub async fn count_identities(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oidc_identities WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await?;
    Ok(n)
}

/// Links an identity; the unique constraints `oidc_identities_provider_subject`
/// and `oidc_identities_user_provider` refuse a second link.
pub async fn insert_identity(
    c: &mut Tx,
    user_id: &str,
    provider: &str,
    subject: &str,
    email: Option<&str>,
    now: Millis,
) -> Result<IdentityRow, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO oidc_identities (id, user_id, provider, subject, email, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {IDENTITY_COLUMNS}"
    ))
    .bind(new_id())
    .bind(user_id)
    .bind(provider)
    .bind(subject)
    .bind(email)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn touch_identity(c: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE oidc_identities SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_identity(c: &mut Tx, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM oidc_identities WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub token_hash: String,
    pub provider: String,
    pub purpose: String,
    pub user_id: Option<String>,
    pub next: Option<String>,
    pub keep_signed_in: i64,
    pub pending_provider: Option<String>,
    pub pending_subject: Option<String>,
    pub pending_email: Option<String>,
    pub pending_email_verified: i64,
    pub pending_name: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

const REQUEST_COLUMNS: &str = "token_hash, provider, purpose, user_id, next, keep_signed_in, \
     pending_provider, pending_subject, pending_email, pending_email_verified, pending_name, created_at, expires_at";

/// An identity proven by a provider and not linked yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    /// The address counts as confirmed (trusted provider, `email_verified`).
    pub email_verified: bool,
    pub name: Option<String>,
}

impl RequestRow {
    pub fn pending(&self) -> Option<Pending> {
        Some(Pending {
            provider: self.pending_provider.clone()?,
            subject: self.pending_subject.clone()?,
            email: self.pending_email.clone(),
            email_verified: self.pending_email_verified != 0,
            name: self.pending_name.clone(),
        })
    }
}

pub struct NewRequest<'a> {
    pub token_hash: &'a str,
    pub provider: &'a str,
    pub purpose: &'a str,
    pub user_id: Option<&'a str>,
    pub next: Option<&'a str>,
    pub keep_signed_in: bool,
    pub pending: Option<&'a Pending>,
    pub expires_at: Millis,
}

pub async fn insert_request(
    c: &mut Tx,
    r: &NewRequest<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    let p = r.pending;
    sqlx::query(
        "INSERT INTO oidc_requests (token_hash, provider, purpose, user_id, next, keep_signed_in, \
         pending_provider, pending_subject, pending_email, pending_email_verified, pending_name, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(r.token_hash)
    .bind(r.provider)
    .bind(r.purpose)
    .bind(r.user_id)
    .bind(r.next)
    .bind(i64::from(r.keep_signed_in))
    .bind(p.map(|p| p.provider.as_str()))
    .bind(p.map(|p| p.subject.as_str()))
    .bind(p.and_then(|p| p.email.as_deref()))
    .bind(p.map_or(0, |p| i64::from(p.email_verified)))
    .bind(p.and_then(|p| p.name.as_deref()))
    .bind(now)
    .bind(r.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Takes a request: it is deleted, so a second take finds nothing. Expired
/// requests are taken too (the caller says so); the janitor deletes the rest.
pub async fn take_request(c: &mut Tx, token_hash: &str) -> Result<Option<RequestRow>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "DELETE FROM oidc_requests WHERE token_hash = $1 RETURNING {REQUEST_COLUMNS}"
    ))
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

/// Reads a request without taking it (a page showing what a continue
/// request asks for).
pub async fn request(c: &mut Conn, token_hash: &str) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {REQUEST_COLUMNS} FROM oidc_requests WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(c)
    .await
}

pub async fn delete_expired_requests(c: &mut Tx, before: Millis) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM oidc_requests WHERE expires_at < $1")
        .bind(before)
        .execute(c)
        .await?;
    Ok(r.rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct TeamSsoRow {
    pub team_id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub secret_key_id: String,
    pub tested_at: Option<i64>,
    pub enforced: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SSO_COLUMNS: &str = "team_id, issuer, client_id, client_secret_sealed, secret_key_id, \
     tested_at, enforced, created_at, updated_at";

pub async fn team_sso(c: &mut Conn, team_id: &str) -> Result<Option<TeamSsoRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {SSO_COLUMNS} FROM team_sso WHERE team_id = $1"
    ))
    .bind(team_id)
    .fetch_optional(c)
    .await
}

pub struct NewSso<'a> {
    pub team_id: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret_sealed: &'a str,
    pub secret_key_id: &'a str,
}

/// Sets a team's provider up, or replaces its setup: a replaced setup is
/// no longer tested, nor enforced.
pub async fn put_team_sso(
    c: &mut Tx,
    s: &NewSso<'_>,
    now: Millis,
) -> Result<TeamSsoRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO team_sso (team_id, issuer, client_id, client_secret_sealed, secret_key_id, tested_at, enforced, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, 0, $6, $6) \
         ON CONFLICT (team_id) DO UPDATE SET issuer = $2, client_id = $3, client_secret_sealed = $4, \
         secret_key_id = $5, tested_at = NULL, enforced = 0, updated_at = $6 \
         RETURNING {SSO_COLUMNS}"
    ))
    .bind(s.team_id)
    .bind(s.issuer)
    .bind(s.client_id)
    .bind(s.client_secret_sealed)
    .bind(s.secret_key_id)
    .bind(now)
    .fetch_one(c)
    .await
}

/// Records a successful test of the setup as it was when the test began
/// (`setup_at`, its `updated_at`); false if it changed meanwhile.
pub async fn mark_team_sso_tested(
    c: &mut Tx,
    team_id: &str,
    setup_at: Millis,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r =
        sqlx::query("UPDATE team_sso SET tested_at = $3 WHERE team_id = $1 AND updated_at = $2")
            .bind(team_id)
            .bind(setup_at)
            .bind(now)
            .execute(c)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_team_sso_enforced(
    c: &mut Tx,
    team_id: &str,
    enforced: bool,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE team_sso SET enforced = $2, updated_at = $3 WHERE team_id = $1")
        .bind(team_id)
        .bind(i64::from(enforced))
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_team_sso(c: &mut Tx, team_id: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM team_sso WHERE team_id = $1")
        .bind(team_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The team whose enforced single sign-on covers `domain` (a verified
/// domain of the team; a domain is verified by one team at most), with its
/// slug, name and plan.
pub async fn enforced_for_domain(
    c: &mut Conn,
    domain: &str,
) -> Result<Option<(String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.slug, t.name, t.plan FROM team_domains d \
         JOIN team_sso s ON s.team_id = d.team_id \
         JOIN teams t ON t.id = d.team_id \
         WHERE d.domain = $1 AND d.verified_at IS NOT NULL AND s.enforced = 1",
    )
    .bind(domain)
    .fetch_optional(c)
    .await
}
