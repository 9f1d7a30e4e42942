//! `/api/v1/me/totp`: two-step verification (A10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{
    ErrorBody, PasswordConfirmation, RecoveryCodes, TotpConfirmRequest, TotpSetup, TwoFactorStatus,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::two_factor;
use crate::error::Result;
use crate::http::extract::{ApiJson, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(status, begin, disable))
        .routes(routes!(confirm))
        .routes(routes!(new_recovery_codes))
}

/// Whether two-step verification is on, and how many recovery codes are left.
#[utoipa::path(get, path = "/api/v1/me/totp", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = ErrorBody)))]
async fn status(State(app): State<App>, Auth(actor): Auth) -> Result<Json<TwoFactorStatus>> {
    Ok(Json(two_factor::status(&app, &actor.user_id).await?))
}

/// Begin setting up two-step verification: a new secret for the authenticator app (as text and
/// as an `otpauth://` URL), replacing one not yet confirmed. Nothing changes for sign-in until a
/// code from it is confirmed.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "me", security(("session" = [])),
    responses((status = 200, body = TotpSetup), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "session_required (an API key was used)"),
        (status = 409, body = ErrorBody, description = "two_factor_enabled")))]
async fn begin(State(app): State<App>, Auth(actor): Auth) -> Result<Json<TotpSetup>> {
    Ok(Json(two_factor::begin_setup(&app, &actor).await?))
}

/// Turn two-step verification on with a code from the app. Answers the 10 recovery codes, shown
/// only here; the account's other sessions are signed out.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "me", security(("session" = [])), request_body = TotpConfirmRequest,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "session_required (an API key was used)"),
        (status = 409, body = ErrorBody, description = "two_factor_not_started or two_factor_enabled"),
        (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_two_factor_code"), (status = 429, body = ErrorBody)))]
async fn confirm(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<TotpConfirmRequest>,
) -> Result<Json<RecoveryCodes>> {
    Ok(Json(
        two_factor::confirm_setup(&app, &actor, &req.code).await?,
    ))
}

/// Turn two-step verification off (or abandon a setup), confirmed with the password.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "me", security(("session" = [])), request_body = PasswordConfirmation,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "session_required (an API key was used)"),
        (status = 409, body = ErrorBody, description = "two_factor_off"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong_password"), (status = 429, body = ErrorBody)))]
async fn disable(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<PasswordConfirmation>,
) -> Result<StatusCode> {
    two_factor::disable(&app, &actor, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes in place of all the old ones, confirmed with the password.
#[utoipa::path(post, path = "/api/v1/me/totp/recovery-codes", tag = "me", security(("session" = [])), request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "session_required (an API key was used)"),
        (status = 409, body = ErrorBody, description = "two_factor_off"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong_password"), (status = 429, body = ErrorBody)))]
async fn new_recovery_codes(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<PasswordConfirmation>,
) -> Result<Json<RecoveryCodes>> {
    Ok(Json(
        two_factor::new_recovery_codes(&app, &actor, &req.password).await?,
    ))
}
