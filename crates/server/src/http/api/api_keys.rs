//! `/api/v1/me/api-keys`: personal API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{ApiKeyList, CreateApiKeyRequest, CreatedApiKey, ErrorBody};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::api_keys;
use crate::error::Result;
use crate::http::extract::{ApiJson, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// My API keys (without their secrets).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "me", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody)))]
async fn list(State(app): State<App>, Auth(actor): Auth) -> Result<Json<ApiKeyList>> {
    Ok(Json(api_keys::list(&app, &actor).await?))
}

/// Create an API key. The key itself is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/api-keys", tag = "me", security(("session" = []), ("api_key" = [])), request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "too_many_api_keys"), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(api_keys::create(&app, &actor, &req).await?),
    ))
}

/// Revoke one of my API keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", tag = "me", security(("session" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "API key id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    api_keys::revoke(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
