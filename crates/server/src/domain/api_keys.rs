//! Personal API keys (P8): named, scoped, shown once, stored hashed,
//! revocable, optionally expiring, sent as `X-Api-Key`. Only an account
//! whose address is confirmed may create them, and a password change or
//! reset revokes them all (see `accounts`).

use postroom_core::api::{self, ApiKeyScope};

use super::accounts::load_user;
use super::actor::Actor;
use super::{tokens, views};
use crate::clock::{DAY, MINUTE};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, api_keys::NewApiKey};

pub const KEY_PREFIX: &str = "prk_";
pub const MAX_KEYS: i64 = 50;
/// The longest expiry a key can be given; without one it lasts until revoked.
pub const MAX_EXPIRY_DAYS: u32 = 365;

/// The stored form of a key's scopes, which [`views::parse_scopes`] reads.
fn format_scopes(scopes: &[ApiKeyScope]) -> String {
    let mut names: Vec<&str> = scopes
        .iter()
        .map(|s| match s {
            ApiKeyScope::Read => "read",
            ApiKeyScope::Write => "write",
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

pub async fn create(
    app: &App,
    actor: &Actor,
    req: &api::CreateApiKeyRequest,
) -> Result<api::CreatedApiKey> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::field(
            "name",
            "validation_failed",
            "name must be 1 to 100 characters",
        ));
    }
    let scopes = req
        .scopes
        .clone()
        .unwrap_or_else(|| vec![ApiKeyScope::Read, ApiKeyScope::Write]);
    if scopes.is_empty() {
        return Err(Error::field(
            "scopes",
            "validation_failed",
            "give at least one scope",
        ));
    }
    if req
        .expires_in_days
        .is_some_and(|d| d == 0 || d > MAX_EXPIRY_DAYS)
    {
        return Err(Error::field(
            "expires_in_days",
            "validation_failed",
            format!("a key expires in 1 to {MAX_EXPIRY_DAYS} days, or never (leave it out)"),
        ));
    }
    let key = format!("{KEY_PREFIX}{}", tokens::random_token(32));
    let id = store::new_id();
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let user = load_user(&mut tx, &actor.user_id).await?;
    if user.email_verified_at.is_none() {
        return Err(Error::forbidden(
            "email_not_verified",
            "confirm your email address before creating API keys: use the link we mailed you",
        ));
    }
    if store::api_keys::count_active(&mut tx, &actor.user_id, now).await? >= MAX_KEYS {
        return Err(Error::conflict(
            "too_many_api_keys",
            None,
            format!("an account can have at most {MAX_KEYS} API keys; revoke one first"),
        ));
    }
    let row = store::api_keys::insert(
        &mut tx,
        &NewApiKey {
            id: &id,
            user_id: &actor.user_id,
            name,
            prefix: &key[..KEY_PREFIX.len() + 6],
            key_hash: &tokens::hash(&key),
            scopes: &format_scopes(&scopes),
            expires_at: req.expires_in_days.map(|d| now + i64::from(d) * DAY),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(api::CreatedApiKey {
        key,
        api_key: views::api_key(&row, now),
    })
}

pub async fn list(app: &App, actor: &Actor) -> Result<api::ApiKeyList> {
    let rows = store::api_keys::list_active(&mut *app.store.conn().await?, &actor.user_id).await?;
    Ok(api::ApiKeyList {
        api_keys: rows
            .iter()
            .map(|k| views::api_key(k, app.clock.now()))
            .collect(),
    })
}

/// Revokes one of the actor's keys; someone else's is "not found".
pub async fn revoke(app: &App, actor: &Actor, id: &str) -> Result<()> {
    let mut tx = app.store.begin().await?;
    if store::api_keys::revoke_own(&mut tx, &actor.user_id, id, app.clock.now()).await? {
        tx.commit().await?;
        Ok(())
    } else {
        Err(Error::NotFound { what: "API key" })
    }
}

/// Resolves an `X-Api-Key` header to its actor.
pub async fn authenticate(app: &App, key: &str) -> Result<Actor> {
    let invalid = || {
        Error::unauthenticated(
            "invalid_api_key",
            "the API key is not valid, was revoked or has expired",
        )
    };
    if !tokens::well_formed(key, KEY_PREFIX) {
        return Err(invalid());
    }
    let now = app.clock.now();
    let mut c = app.store.conn().await?;
    let row = store::api_keys::by_hash(&mut c, &tokens::hash(key), now)
        .await?
        .ok_or_else(invalid)?;
    drop(c);
    if row.last_used_at.is_none_or(|t| now - t >= MINUTE) {
        // Bookkeeping, like session activity.
        let mut tx = app.store.begin_relaxed().await?;
        store::api_keys::touch(&mut tx, &row.id, now).await?;
        tx.commit().await?;
    }
    let can_write = views::parse_scopes(&row.scopes).contains(&ApiKeyScope::Write);
    Ok(Actor {
        user_id: row.user_id,
        session_id: None,
        can_write,
    })
}
