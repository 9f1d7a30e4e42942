//! `/api/v1/device-authorizations`: a signed-in client approves a program's
//! device sign-in (RFC 8628) by the code the program shows, as the `/device`
//! page does for a browser.

use axum::extract::State;
use axum::Json;
use postroom_core::api::{DeviceApproval, DeviceApproveRequest, ErrorBody};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::oauth;
use crate::error::Result;
use crate::http::extract::{ApiJson, Auth, ClientInfo};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(approve))
}

/// Approve a program's sign-in by the code it shows (`XXXX-XXXX`, any case, dash optional): its
/// next poll of `POST /oauth/token` gets a session of my account, named after the program and its
/// device in my sessions. Codes expire 5 minutes after the program asked for one; guesses are
/// rate-limited per address and per account.
#[utoipa::path(post, path = "/api/v1/device-authorizations/approve", tag = "sessions", security(("session" = [])),
    request_body = DeviceApproveRequest,
    responses((status = 200, body = DeviceApproval),
        (status = 400, body = ErrorBody, description = "request_expired: the code expired"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "session_required (an API key was used), or csrf_failed"),
        (status = 404, body = ErrorBody, description = "not_found: no program shows this code"),
        (status = 409, body = ErrorBody, description = "already_decided: the code was approved or denied before"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "rate_limited, with Retry-After")))]
async fn approve(
    State(app): State<App>,
    Auth(actor): Auth,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<DeviceApproveRequest>,
) -> Result<Json<DeviceApproval>> {
    Ok(Json(
        oauth::approve_device(&app, &actor, &client, &req.user_code).await?,
    ))
}
