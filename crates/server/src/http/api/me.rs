//! `/api/v1/me`: the signed-in person's account, password, email, avatar
//! and notification preferences.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use postroom_core::api::{
    Accepted, AccountExport, ChangeEmailRequest, ChangePasswordRequest, DeleteAccountRequest,
    ErrorBody, NotificationPrefsEnvelope, TokenRequest, UpdateMeRequest, UserEnvelope,
};
use postroom_core::NotificationPrefs;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::{accounts, profile};
use crate::error::{Error, Result};
use crate::http::extract::{read_avatar, ApiJson, Auth, ClientInfo};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me, delete_me))
        .routes(routes!(export_me))
        .routes(routes!(change_password))
        .routes(routes!(change_email))
        .routes(routes!(confirm_email_change))
        .routes(routes!(get_prefs, set_prefs))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(set_avatar, delete_avatar))
                .layer(DefaultBodyLimit::max(profile::MAX_AVATAR_BYTES + 64 * 1024)),
        )
}

/// My account.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody)))]
async fn get_me(State(app): State<App>, Auth(actor): Auth) -> Result<Json<UserEnvelope>> {
    Ok(Json(UserEnvelope {
        user: profile::me(&app, &actor).await?,
    }))
}

/// Change my username and profile fields. Absent fields stay as they are; `null` clears one.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", security(("session" = []), ("api_key" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "username_taken"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<UserEnvelope>> {
    Ok(Json(UserEnvelope {
        user: profile::update_me(&app, &actor, &req).await?,
    }))
}

/// Delete my account, confirmed with my password (P9). Teams I alone administer while others
/// remain must get another admin first (409 `sole_admin`); a team with no one else in it is deleted
/// with the account. A last mail confirms the deletion.
#[utoipa::path(delete, path = "/api/v1/me", tag = "me", security(("session" = []), ("api_key" = [])), request_body = DeleteAccountRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "sole_admin"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong_password"), (status = 429, body = ErrorBody)))]
async fn delete_me(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<DeleteAccountRequest>,
) -> Result<StatusCode> {
    accounts::delete_account(&app, &actor, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything Postroom keeps about me, as one JSON file to download (P9).
#[utoipa::path(get, path = "/api/v1/me/export", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = AccountExport, headers(("content-disposition" = String, description = "attachment; filename=..."))),
        (status = 401, body = ErrorBody)))]
async fn export_me(State(app): State<App>, Auth(actor): Auth) -> Result<impl IntoResponse> {
    let export = profile::export(&app, &actor).await?;
    let date = export.exported_at.get(..10).unwrap_or("export");
    let disposition = format!(
        "attachment; filename=\"postroom-{}-{date}.json\"",
        export.user.username
    );
    Ok((
        [
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(export),
    ))
}

/// Change my password; my other sessions are signed out.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", security(("session" = []), ("api_key" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "wrong_password or weak_password"),
        (status = 429, body = ErrorBody)))]
async fn change_password(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    accounts::change_password(&app, &actor, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start changing my email address: a link goes to the new address, a notice to the old one.
#[utoipa::path(post, path = "/api/v1/me/email", tag = "me", security(("session" = []), ("api_key" = [])), request_body = ChangeEmailRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "email_taken"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong_password, same_email or validation_failed"), (status = 429, body = ErrorBody)))]
async fn change_email(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ChangeEmailRequest>,
) -> Result<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(accounts::request_email_change(&app, &actor, &req).await?),
    ))
}

/// Confirm an email change with the token from the link sent to the new address.
#[utoipa::path(post, path = "/api/v1/me/email/confirm", tag = "me", request_body = TokenRequest,
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody, description = "invalid_token"),
        (status = 409, body = ErrorBody, description = "email_taken"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn confirm_email_change(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<UserEnvelope>> {
    Ok(Json(UserEnvelope {
        user: accounts::confirm_email_change(&app, &req.token, &client).await?,
    }))
}

/// My notification preferences.
#[utoipa::path(get, path = "/api/v1/me/notification-preferences", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = NotificationPrefsEnvelope), (status = 401, body = ErrorBody)))]
async fn get_prefs(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<NotificationPrefsEnvelope>> {
    Ok(Json(NotificationPrefsEnvelope {
        preferences: profile::notification_prefs(&app, &actor).await?,
    }))
}

/// Replace my notification preferences. Absent switches are on.
#[utoipa::path(put, path = "/api/v1/me/notification-preferences", tag = "me", security(("session" = []), ("api_key" = [])),
    request_body = NotificationPrefsEnvelope,
    responses((status = 200, body = NotificationPrefsEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_prefs(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<NotificationPrefsEnvelope>,
) -> Result<Json<NotificationPrefsEnvelope>> {
    let prefs: NotificationPrefs = req.preferences;
    Ok(Json(NotificationPrefsEnvelope {
        preferences: profile::set_notification_prefs(&app, &actor, &prefs).await?,
    }))
}

/// Upload my avatar: a PNG, JPEG or WebP image up to 2 MB and 4096 pixels on
/// each side, as the raw body (with its image content type) or as the
/// `avatar` field of a multipart form. It is re-encoded as a 256x256 PNG.
#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "me", security(("session" = []), ("api_key" = [])),
    request_body(content(("image/png"), ("image/jpeg"), ("image/webp"), ("multipart/form-data")), description = "The image"),
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid_image, or image_too_large (over 4096 pixels on a side)"),
        (status = 429, body = ErrorBody, description = "more than 20 uploads in an hour")))]
async fn set_avatar(
    State(app): State<App>,
    Auth(actor): Auth,
    request: Request,
) -> Result<Json<UserEnvelope>> {
    let bytes = avatar_bytes(request).await?;
    Ok(Json(UserEnvelope {
        user: profile::set_avatar(&app, &actor, bytes).await?,
    }))
}

async fn avatar_bytes(request: Request) -> Result<Vec<u8>> {
    read_avatar(request, true).await?.image.ok_or_else(|| {
        Error::field(
            "avatar",
            "validation_failed",
            "the form has no `avatar` field",
        )
    })
}

/// Remove my avatar.
#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_avatar(State(app): State<App>, Auth(actor): Auth) -> Result<StatusCode> {
    profile::delete_avatar(&app, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
