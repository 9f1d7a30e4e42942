//! `/api/v1/users/{username}` (public profiles) and `/api/v1/avatars/{id}`.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use postroom_core::api::{ErrorBody, PublicProfile};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::profile;
use crate::error::Result;
use crate::http::extract::MaybeAuth;
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(public_profile))
        .routes(routes!(avatar))
}

/// A public profile: only what its owner made public; 404 when the profile is not public.
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = PublicProfile), (status = 404, body = ErrorBody)))]
async fn public_profile(
    State(app): State<App>,
    Path(username): Path<String>,
) -> Result<Json<PublicProfile>> {
    Ok(Json(profile::public_profile(&app, &username).await?))
}

/// An avatar image (PNG): anyone's when their profile is public, otherwise only my own.
#[utoipa::path(get, path = "/api/v1/avatars/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, content_type = "image/png", description = "The image"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn avatar(
    State(app): State<App>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<String>,
) -> Result<Response> {
    let (content_type, data) = profile::avatar(&app, viewer.as_ref(), &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        data,
    )
        .into_response())
}
