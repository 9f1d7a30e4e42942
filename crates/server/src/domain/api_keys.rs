//! Personal API keys (P8): named, scoped, shown once, stored hashed,
//! revocable, sent as `X-Api-Key`.

use postroom_core::api::{self, ApiKeyScope};

use super::sessions::Actor;
use super::{tokens, views};
use crate::clock::MINUTE;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, api_keys::NewApiKey};

pub const KEY_PREFIX: &str = "prk_";
pub const MAX_KEYS: i64 = 50;

pub fn parse_scopes(s: &str) -> Vec<ApiKeyScope> {
    s.split(',')
        .filter_map(|p| match p {
            "read" => Some(ApiKeyScope::Read),
            "write" => Some(ApiKeyScope::Write),
            _ => None,
        })
        .collect()
}

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
    let key = format!("{KEY_PREFIX}{}", tokens::random_token(32));
    let id = store::new_id();
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if store::api_keys::count_active(&mut tx, &actor.user_id).await? >= MAX_KEYS {
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
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(api::CreatedApiKey {
        key,
        api_key: views::api_key(&row),
    })
}

pub async fn list(app: &App, actor: &Actor) -> Result<api::ApiKeyList> {
    let rows = store::api_keys::list_active(&mut *app.store.conn().await?, &actor.user_id).await?;
    Ok(api::ApiKeyList {
        api_keys: rows.iter().map(views::api_key).collect(),
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
    let invalid =
        || Error::unauthenticated("invalid_api_key", "the API key is not valid or was revoked");
    if !tokens::well_formed(key, KEY_PREFIX) {
        return Err(invalid());
    }
    let mut c = app.store.conn().await?;
    let row = store::api_keys::by_hash(&mut c, &tokens::hash(key))
        .await?
        .ok_or_else(invalid)?;
    let now = app.clock.now();
    drop(c);
    if row.last_used_at.is_none_or(|t| now - t >= MINUTE) {
        // Bookkeeping, like session activity.
        let mut tx = app.store.begin_relaxed().await?;
        store::api_keys::touch(&mut tx, &row.id, now).await?;
        tx.commit().await?;
    }
    let can_write = parse_scopes(&row.scopes).contains(&ApiKeyScope::Write);
    Ok(Actor {
        user_id: row.user_id,
        session_id: None,
        can_write,
    })
}
