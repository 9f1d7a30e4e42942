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
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = method_label(req.method());
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (count, duration) = request_metrics(route, method, response.status().as_u16());
    count.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The request counter and duration histogram of one route, method and
/// status, registered once: building a metric's key per request (labels,
/// hashing, allocation) cost more than the rest of a cached read.
fn request_metrics(
    route: &str,
    method: &'static str,
    status: u16,
) -> (metrics::Counter, metrics::Histogram) {
    type PerRoute = Vec<(&'static str, u16, metrics::Counter, metrics::Histogram)>;
    static HANDLES: std::sync::LazyLock<
        std::sync::RwLock<std::collections::HashMap<String, PerRoute>>,
    > = std::sync::LazyLock::new(Default::default);
    let found = |handles: &std::collections::HashMap<String, PerRoute>| {
        handles.get(route).and_then(|per_route| {
            per_route
                .iter()
                .find(|(m, s, ..)| *m == method && *s == status)
                .map(|(_, _, c, h)| (c.clone(), h.clone()))
        })
    };
    if let Some(handles) = found(&HANDLES.read().unwrap_or_else(|e| e.into_inner())) {
        return handles;
    }
    let mut all = HANDLES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(handles) = found(&all) {
        return handles;
    }
    let counter = metrics::counter!("http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status.to_string());
    let histogram = metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned());
    all.entry(route.to_owned()).or_default().push((
        method,
        status,
        counter.clone(),
        histogram.clone(),
    ));
    (counter, histogram)
}
