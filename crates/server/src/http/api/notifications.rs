//! `/api/v1/me/notifications`: in-app notifications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{ErrorBody, MarkReadRequest, NotificationPage};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::profile;
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mark_read))
}

#[derive(Deserialize, IntoParams)]
struct Page {
    /// The `next_cursor` of the previous page.
    before: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
}

/// My notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "me", security(("session" = []), ("api_key" = [])), params(Page),
    responses((status = 200, body = NotificationPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<NotificationPage>> {
    Ok(Json(
        profile::notifications(&app, &actor, page.before.as_deref(), page.limit).await?,
    ))
}

/// Mark notifications read: the given ids, or all.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "me", security(("session" = []), ("api_key" = [])), request_body = MarkReadRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<MarkReadRequest>,
) -> Result<StatusCode> {
    profile::mark_notifications_read(&app, &actor, req.ids.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
