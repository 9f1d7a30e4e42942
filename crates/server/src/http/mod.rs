//! Everything HTTP: the JSON API (`api/`), operational endpoints (`ops`),
//! the pages that mailed links open (`pages`), and the middleware around them.

pub mod api;
pub mod extract;
mod ops;
pub mod web;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::state::App;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request bodies are small JSON documents; the avatar route raises its own limit.
const BODY_LIMIT: usize = 64 * 1024;

/// The OpenAPI document of every `/api/v1` route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router().into_openapi()
}

pub fn router(app: App) -> Router {
    let (api_router, openapi) = api::router().split_for_parts();
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
        .merge(web::router(app.clone()))
        .method_not_allowed_fallback(|| async {
            let body = postroom_core::api::ErrorBody {
                error: postroom_core::api::ErrorDetail {
                    code: "method_not_allowed".into(),
                    message: "this method is not allowed here".into(),
                    fields: Default::default(),
                },
            };
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
        })
        .with_state(app);
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn(record_metrics))
            .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
            .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
            .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// Unknown paths: a JSON error under `/api/`, a page elsewhere. It is the
/// dashboard router's fallback, so the page shows who is signed in.
pub(crate) async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        axum::response::IntoResponse::into_response(Error::NotFound { what: "page" })
    } else {
        web::pages::error_status(axum::http::StatusCode::NOT_FOUND)
    }
}

/// Counts requests and their latency per route, method and status.
async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
