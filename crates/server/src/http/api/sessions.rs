//! `/api/v1/sessions` (sign in and out) and `/api/v1/me/sessions`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{ErrorBody, RevokedCount, SessionList, SignInRequest, SignInResponse};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::sessions::{self, SignIn};
use crate::error::Result;
use crate::http::extract::{ApiJson, Auth, ClientInfo};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(list))
        .routes(routes!(revoke))
        .routes(routes!(revoke_others))
}

/// Sign in with email or username and password, and, for an account with two-step verification,
/// a code from the authenticator app (`otp`) or a recovery code.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = SignInRequest,
    responses((status = 201, body = SignInResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody, description = "invalid_credentials, for any wrong login or password; two_factor_required when the password was right but the account needs a code; invalid_two_factor_code"),
        (status = 403, body = ErrorBody, description = "captcha_required or captcha_invalid; account_disabled; sso_required (the address's team requires its single sign-on; the message names where to sign in)"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited, with Retry-After")))]
async fn sign_in(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<(StatusCode, Json<SignInResponse>)> {
    let req = SignIn {
        login: &req.login,
        password: &req.password,
        keep_signed_in: req.keep_signed_in,
        captcha: req.captcha.as_deref(),
        otp: req.otp.as_deref(),
        recovery_code: req.recovery_code.as_deref(),
    };
    Ok((
        StatusCode::CREATED,
        Json(sessions::sign_in(&app, req, &client).await?),
    ))
}

/// Sign out: ends the session this request was made with.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions", security(("session" = [])),
    responses((status = 204), (status = 400, body = ErrorBody, description = "not_a_session (an API key was used)"), (status = 401, body = ErrorBody)))]
async fn sign_out(State(app): State<App>, Auth(actor): Auth) -> Result<StatusCode> {
    sessions::sign_out(&app, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The live sessions of the signed-in person, the current one marked.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "sessions", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
async fn list(State(app): State<App>, Auth(actor): Auth) -> Result<Json<SessionList>> {
    Ok(Json(sessions::list(&app, &actor).await?))
}

/// End one of my sessions.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "sessions", security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    sessions::revoke(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session but the current one.
#[utoipa::path(post, path = "/api/v1/me/sessions/revoke-others", tag = "sessions", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = RevokedCount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_others(State(app): State<App>, Auth(actor): Auth) -> Result<Json<RevokedCount>> {
    Ok(Json(sessions::revoke_others(&app, &actor).await?))
}
