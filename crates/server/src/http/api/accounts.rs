//! `/api/v1/accounts`, `/api/v1/password-resets`, `/api/v1/username-reminders`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{
    Accepted, EmailRequest, ErrorBody, ResetConfirmRequest, SignUpRequest, TokenRequest,
    UserEnvelope,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::accounts;
use crate::error::Result;
use crate::http::extract::{ApiJson, ClientInfo};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(username_reminder))
}

/// Create an account and send the confirmation mail.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUpRequest,
    responses(
        (status = 201, body = UserEnvelope, description = "Created; a confirmation link was mailed"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "captcha_required or captcha_invalid"),
        (status = 409, body = ErrorBody, description = "username_taken or email_taken"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "validation_failed or weak_password"),
        (status = 429, body = ErrorBody)))]
async fn sign_up(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, Json<UserEnvelope>)> {
    let user = accounts::sign_up(&app, &req, &client).await?;
    Ok((StatusCode::CREATED, Json(UserEnvelope { user })))
}

/// Confirm an email address with the token from the confirmation link.
#[utoipa::path(post, path = "/api/v1/accounts/verify-email", tag = "accounts", request_body = TokenRequest,
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody, description = "invalid_token"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_email(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<UserEnvelope>> {
    let user = accounts::verify_email(&app, &req.token, &client).await?;
    Ok(Json(UserEnvelope { user }))
}

/// Send the confirmation mail again. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/accounts/verify-email/resend", tag = "accounts", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn resend_verification(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(accounts::resend_verification(&app, &req, &client).await?),
    ))
}

/// Mail a password reset link. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/password-resets", tag = "accounts", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_password_reset(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(accounts::request_password_reset(&app, &req, &client).await?),
    ))
}

/// Set a new password with the token from a reset link; signs out every session.
#[utoipa::path(post, path = "/api/v1/password-resets/confirm", tag = "accounts", request_body = ResetConfirmRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ErrorBody, description = "invalid_token"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "weak_password"), (status = 429, body = ErrorBody)))]
async fn confirm_password_reset(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ResetConfirmRequest>,
) -> Result<Json<Accepted>> {
    accounts::confirm_password_reset(&app, &req, &client).await?;
    Ok(Json(Accepted {
        message: "your password was changed; sign in with the new one".into(),
    }))
}

/// Mail the username of the account with this address. The answer is the same whether or not it exists.
#[utoipa::path(post, path = "/api/v1/username-reminders", tag = "accounts", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn username_reminder(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(accounts::username_reminder(&app, &req, &client).await?),
    ))
}
