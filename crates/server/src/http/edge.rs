//! The one middleware every response passes through: a request id (kept when
//! the caller sent a sensible one, else a new UUID) in the request and the
//! response, the limit on the size of a request's headers, the security
//! headers every answer carries (with `Cache-Control: no-store` unless the
//! handler chose its caching, and HSTS when the public URL is https), the
//! request metrics, and the log line of a request that failed (5xx), with
//! its request id, method, path and cause.
//!
//! It is written as one plain tower service, rather than a stack of layers
//! and a tracing span per request, because that stack cost about a tenth of a
//! cached read. The request span still exists at `debug` level
//! (`RUST_LOG=postroom_server=debug`), around everything a request logs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::Error;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 128;

/// The most a request's headers may hold, names and values together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How long browsers keep to https once they saw it (a year).
const HSTS: &str = "max-age=31536000";

/// Why a request failed, put in the response's extensions by whatever
/// turned an internal error into a 500, for the edge to log.
#[derive(Clone, Debug)]
pub struct FailureCause(pub Arc<str>);

#[derive(Clone, Copy, Default)]
pub struct EdgeLayer {
    hsts: bool,
}

impl EdgeLayer {
    /// `https`: whether the server is reached over https (its public URL),
    /// so that browsers are told to keep to it.
    pub fn new(https: bool) -> EdgeLayer {
        EdgeLayer { hsts: https }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;
    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            hsts: self.hsts,
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    hsts: bool,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let id = match req.headers().get(&REQUEST_ID) {
            Some(v) if acceptable_id(v) => v.clone(),
            _ => {
                let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                    .expect("a UUID is a valid header value");
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let method = method_label(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        let uri = req.uri().clone();
        let span = tracing::debug_span!("request", request_id = ?id, method, path = uri.path());
        // Oversized headers are refused before any handler reads them.
        let response =
            (header_bytes(&req) <= MAX_HEADER_BYTES).then(|| self.inner.call(req).instrument(span));
        let hsts = self.hsts;
        Box::pin(async move {
            let mut response = match response {
                Some(response) => caught(response).await,
                None => Error::HeadersTooLarge {
                    message: format!(
                        "the request's headers must be at most {} KiB together",
                        MAX_HEADER_BYTES / 1024
                    ),
                }
                .into_response(),
            };
            let status = response.status();
            let headers = response.headers_mut();
            headers.insert(REQUEST_ID, id.clone());
            // Handlers of what may be cached (assets, avatars) say so; any
            // other answer may carry a token or private data.
            for (name, value) in [
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
            ] {
                headers
                    .entry(name)
                    .or_insert(HeaderValue::from_static(value));
            }
            if hsts {
                headers
                    .entry(header::STRICT_TRANSPORT_SECURITY)
                    .or_insert(HeaderValue::from_static(HSTS));
            }
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let (count, duration) = request_metrics(route, method, status.as_u16());
            count.increment(1);
            duration.record(started.elapsed().as_secs_f64());
            if status.is_server_error() {
                let cause = response.extensions().get::<FailureCause>();
                tracing::error!(
                    request_id = ?id,
                    method,
                    path = uri.path(),
                    status = status.as_u16(),
                    error = cause.map_or("-", |c| &c.0),
                    "request failed"
                );
            }
            Ok(response)
        })
    }
}

/// The size of a request's headers: names and values, without separators.
fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// The handler's response; a handler that panics answers an opaque 500
/// (the JSON error every other failure gets, logged below with the request
/// id and the panic's message) instead of dropping the connection, and the
/// server goes on serving.
async fn caught<F>(handler: F) -> Response
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let mut handler = std::pin::pin!(handler);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(response),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                metrics::counter!("postroom_handler_panics_total").increment(1);
                Poll::Ready(
                    Error::Internal(anyhow::anyhow!("the handler panicked: {message}"))
                        .into_response(),
                )
            }
        }
    })
    .await
}

/// A caller's id is kept when it is short and plain (visible ASCII).
fn acceptable_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= MAX_REQUEST_ID && b.iter().all(|c| c.is_ascii_graphic())
}

fn method_label(method: &Method) -> &'static str {
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

type PerRoute = Vec<(&'static str, u16, metrics::Counter, metrics::Histogram)>;

/// The request counter and duration histogram of one route, method and
/// status, registered once: building a metric's key per request (labels,
/// hashing, allocation) cost more than the rest of a cached read.
fn request_metrics(
    route: &str,
    method: &'static str,
    status: u16,
) -> (metrics::Counter, metrics::Histogram) {
    static HANDLES: LazyLock<RwLock<HashMap<String, PerRoute>>> = LazyLock::new(Default::default);
    let found = |handles: &HashMap<String, PerRoute>| {
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
    let counter = metrics::counter!("http_requests_total",
        "method" => method, "route" => route.to_owned(), "status" => status.to_string());
    let histogram = metrics::histogram!("http_request_duration_seconds",
        "method" => method, "route" => route.to_owned());
    all.entry(route.to_owned()).or_default().push((
        method,
        status,
        counter.clone(),
        histogram.clone(),
    ));
    (counter, histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500_and_the_service_goes_on() {
        use http_body_util::BodyExt;
        let handler = tower::service_fn(|req: Request| async move {
            if req.uri().path() == "/boom" {
                panic!("boom");
            }
            Ok::<_, Infallible>(Response::new(axum::body::Body::from("fine")))
        });
        let mut edge = EdgeLayer::new(false).layer(handler);
        let request = |path: &str| {
            Request::builder()
                .uri(path)
                .header(&REQUEST_ID, "trace-me")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let Ok(response) = edge.call(request("/boom")).await;
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()[&REQUEST_ID], "trace-me");
        let cause = response.extensions().get::<FailureCause>().unwrap();
        assert!(cause.0.contains("boom"), "{}", cause.0);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        let Ok(response) = edge.call(request("/fine")).await;
        assert_eq!(response.status(), 200);
    }

    #[test]
    fn only_plain_short_ids_are_kept() {
        for ok in ["trace-me-42", "a", &"x".repeat(MAX_REQUEST_ID)] {
            assert!(acceptable_id(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in ["", "has space", &"x".repeat(MAX_REQUEST_ID + 1)] {
            assert!(
                !acceptable_id(&HeaderValue::from_str(bad).unwrap()),
                "{bad:?}"
            );
        }
        assert!(!acceptable_id(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()
        ));
    }
}
