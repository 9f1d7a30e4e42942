//! The JSON endpoints `assets/passkeys.js` calls for passkey ceremonies
//! (A10): adding a passkey from the security settings, and signing in with
//! one from the sign-in page (the browser's autofill, or the "Sign in with
//! a passkey" button). They are the pages' own: same-origin, with the
//! browser's cookies, each carrying the page's CSRF token in
//! `X-CSRF-Token`, and they answer errors in the API's JSON shape.
//!
//! A sign-in here is a web sign-in: the session joins the browser's
//! accounts like a password sign-in, and the answer says where to go
//! (onboarding first when it is not done, then `next`).

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{check_csrf, WebSession, CSRF_HEADER};
use crate::domain::actor::Actor;
use crate::domain::passkeys::{self, SignInAnswer};
use crate::error::Error;
use crate::http::extract::{ApiJson, ClientInfo};
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/settings/security/passkeys/begin",
            post(begin_registration),
        )
        .route(
            "/settings/security/passkeys/finish",
            post(finish_registration),
        )
        .route("/sign-in/passkey/begin", post(begin_sign_in))
        .route("/sign-in/passkey/finish", post(finish_sign_in))
}

/// A JSON body sent by one of our pages: the browser's session, and the
/// page's CSRF token in `X-CSRF-Token` (checked before the body is read).
pub(super) struct PageJson<T> {
    pub(super) session: WebSession,
    pub(super) body: T,
}

impl<T: DeserializeOwned> FromRequest<App> for PageJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let session = req
            .extensions()
            .get::<WebSession>()
            .cloned()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the web session is missing")))?;
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !check_csrf(&session, sent) {
            return Err(Error::forbidden(
                "csrf_failed",
                "send the page's CSRF token (from <meta name=\"csrf-token\">) in `X-CSRF-Token`",
            ));
        }
        let ApiJson(body) = ApiJson::<T>::from_request(req, app).await?;
        Ok(PageJson { session, body })
    }
}

/// The account acting in this browser, for the settings endpoints.
pub(super) fn signed_in(session: &WebSession) -> Result<Actor, Error> {
    session
        .active()
        .map(|a| a.actor)
        .ok_or_else(|| Error::unauthenticated("unauthenticated", "sign in first"))
}

#[derive(Deserialize)]
struct BeginRegistration {
    #[serde(default)]
    password: String,
}

async fn begin_registration(
    State(app): State<App>,
    req: PageJson<BeginRegistration>,
) -> Result<Json<passkeys::Begun>, Error> {
    let actor = signed_in(&req.session)?;
    Ok(Json(
        passkeys::begin_registration(&app, &actor, &req.body.password).await?,
    ))
}

#[derive(Deserialize)]
struct FinishRegistration {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: Value,
}

async fn finish_registration(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    req: PageJson<FinishRegistration>,
) -> Result<Response, Error> {
    let actor = signed_in(&req.session)?;
    let b = &req.body;
    let passkey =
        passkeys::finish_registration(&app, &actor, &b.ceremony, &b.name, &b.credential, &client)
            .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "passkey": passkey,
            "redirect": "/settings/security?flash=passkey_added",
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn begin_sign_in(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    _: PageJson<Nothing>,
) -> Result<Json<passkeys::Begun>, Error> {
    Ok(Json(passkeys::begin_sign_in(&app, &client).await?))
}

#[derive(Deserialize)]
struct FinishSignIn {
    #[serde(flatten)]
    answer: SignInAnswer,
    #[serde(default)]
    next: Option<String>,
}

async fn finish_sign_in(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    req: PageJson<FinishSignIn>,
) -> Result<Json<Value>, Error> {
    let signed = passkeys::finish_sign_in(&app, &req.body.answer, &client).await?;
    let redirect =
        super::auth::add_signed_in(&app, &req.session, signed, req.body.next.as_deref()).await;
    Ok(Json(json!({ "redirect": redirect })))
}
