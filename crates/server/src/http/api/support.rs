//! `/api/v1/me/support-requests`: support requests (P10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{CreateSupportRequest, ErrorBody, SupportRequest, SupportRequestList};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::support;
use crate::error::Result;
use crate::http::extract::{ApiJson, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// My support requests, newest first, with their status.
#[utoipa::path(get, path = "/api/v1/me/support-requests", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = SupportRequestList), (status = 401, body = ErrorBody)))]
async fn list(State(app): State<App>, Auth(actor): Auth) -> Result<Json<SupportRequestList>> {
    Ok(Json(support::list(&app, &actor).await?))
}

/// Send a support request to the operators of this server.
#[utoipa::path(post, path = "/api/v1/me/support-requests", tag = "me", security(("session" = []), ("api_key" = [])),
    request_body = CreateSupportRequest,
    responses((status = 201, body = SupportRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<CreateSupportRequest>,
) -> Result<(StatusCode, Json<SupportRequest>)> {
    Ok((
        StatusCode::CREATED,
        Json(support::submit(&app, &actor, &req).await?),
    ))
}
