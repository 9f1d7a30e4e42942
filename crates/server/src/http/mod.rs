//! Everything HTTP: the JSON API (`api/`), operational endpoints (`ops`),
//! the OAuth endpoints programs sign in through (`oauth`), the web pages
//! (`web/`), and the middleware around them.

pub mod api;
pub mod edge;
pub mod extract;
mod oauth;
mod ops;
pub mod web;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;

use crate::error::Error;
use crate::state::App;

/// Request bodies are small JSON documents; the avatar route raises its own limit.
const BODY_LIMIT: usize = 64 * 1024;

/// The OpenAPI document of every `/api/v1` route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router_and_document().1
}

pub fn router(app: App) -> Router {
    let https = app.settings.is_https();
    let (api_router, openapi) = api::router_and_document();
    let openapi_json: Arc<str> = openapi
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
        .into();
    let routes = Router::new()
        .merge(api_router)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .merge(ops::router())
        .merge(oauth::router())
        .merge(web::router(app.clone()))
        .method_not_allowed_fallback(|| async {
            let body = postroom_core::api::ErrorBody {
                error: postroom_core::api::ErrorDetail {
                    code: "method_not_allowed".into(),
                    message: "this method is not allowed here".into(),
                    fields: Default::default(),
                },
                conflict: None,
                payment: None,
            };
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
        })
        .with_state(app);
    routes.layer(
        ServiceBuilder::new()
            .layer(edge::EdgeLayer::new(https))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// Unknown paths: a JSON error under `/api/`, a page elsewhere. It is the
/// dashboard router's fallback, so the page shows who is signed in.
pub(crate) async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        axum::response::IntoResponse::into_response(Error::NotFound { what: "page" })
    } else {
        web::errors::error_status(axum::http::StatusCode::NOT_FOUND)
    }
}
