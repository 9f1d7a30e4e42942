//! Idempotency keys of the requests that move money (B9): a change of
//! subscription, a top-up. The first answer is stored with the key and
//! given again for a retry with the same key and request, so money moves
//! once. The API takes the key from `Idempotency-Key`; the pages put a
//! random one in a hidden field of the form, so a double submit replays.

use std::future::Future;

use axum::http::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::actor::Actor;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store;

/// What a keyed request answered: its status and JSON body, and whether
/// this is the stored answer of an earlier request with the same key.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

/// A request's fingerprint for its idempotency key: the route, the team
/// and the body as parsed.
pub fn request_hash(route: &str, team: &str, body: &impl Serialize) -> String {
    let body = serde_json::to_string(body).unwrap_or_default();
    hex::encode(Sha256::digest(format!(
        "{route}\n{}\n{body}",
        team.to_ascii_lowercase()
    )))
}

/// The key as sent, checked: present, at most 255 visible ASCII characters.
pub fn check_key(key: Option<&str>) -> Result<&str> {
    let key = key.map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| {
        Error::bad_request(
            "idempotency_key_required",
            "this request moves money: send an Idempotency-Key header (a random string, the same for a retry)",
        )
    })?;
    if key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be at most 255 visible ASCII characters",
        ));
    }
    Ok(key)
}

/// Runs `work` once per key of `actor` in team `team`: a retry with the
/// same key and request gets the first answer again (an error answer too);
/// the same key with another request is 422 `idempotency_key_reused`, and
/// while the first is still running, 409 `idempotency_key_in_use`. An
/// answer that was an internal error is not kept, so the retry runs again
/// (a charge it made is found by reconciling, and a second change waits
/// for it: `payment_in_progress`).
pub async fn once<T: Serialize>(
    app: &App,
    actor: &Actor,
    team: &str,
    key: &str,
    hash: &str,
    work: impl Future<Output = Result<(StatusCode, T)>>,
) -> Result<Answer> {
    let owner = format!("{}:{}", actor.user_id, team.to_ascii_lowercase());
    let now = app.clock.now();
    let state =
        store::billing::claim_key(&mut *app.store.conn().await?, &owner, key, hash, now).await?;
    match state {
        store::billing::KeyState::New => {}
        store::billing::KeyState::InProgress => {
            return Err(Error::conflict(
                "idempotency_key_in_use",
                None,
                "a request with this Idempotency-Key is still being handled",
            ))
        }
        store::billing::KeyState::Mismatch => {
            return Err(Error::Invalid {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for a different request".into(),
                fields: Default::default(),
            })
        }
        store::billing::KeyState::Done { status, response } => {
            return Ok(Answer {
                status: StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
                body: response,
                replayed: true,
            });
        }
    }
    let (status, body) = match work.await {
        Ok((status, value)) => (
            status,
            serde_json::to_string(&value).map_err(anyhow::Error::from)?,
        ),
        Err(Error::Internal(e)) => {
            store::billing::release_key(&mut *app.store.conn().await?, &owner, key).await?;
            return Err(Error::Internal(e));
        }
        Err(e) => (
            e.status(),
            serde_json::to_string(&e.body()).map_err(anyhow::Error::from)?,
        ),
    };
    store::billing::finish_key(
        &mut *app.store.conn().await?,
        &owner,
        key,
        i64::from(status.as_u16()),
        &body,
    )
    .await?;
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}
