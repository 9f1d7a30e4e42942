//! `GET /healthz` and `GET /metrics` (open, or behind `metrics_token`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::error::Error;
use crate::state::App;
use crate::store;

pub fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(app): State<App>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
        }
    }
}

/// Prometheus metrics; with `metrics_token` set, only for a request that
/// sends it as a bearer token.
async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(token) = &app.settings.metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        if !sent.is_some_and(|sent| same_secret(sent, token.expose_secret())) {
            let mut refused = Error::unauthenticated(
                "unauthenticated",
                "send the metrics token as `Authorization: Bearer <token>`",
            )
            .into_response();
            refused
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return refused;
        }
    }
    if let Ok(mut c) = app.store.conn().await {
        if let Ok(n) = store::mail::pending(&mut c).await {
            metrics::gauge!("postroom_mail_queue_pending").set(n as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics_handle().render(),
    )
        .into_response()
}

/// Compares in time that depends on neither value: their digests are
/// compared, so not even the length of the secret shows.
fn same_secret(sent: &str, secret: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(sent.as_bytes())
        .ct_eq(&Sha256::digest(secret.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_whole() {
        assert!(super::same_secret("s3cret-token", "s3cret-token"));
        for other in ["", "s3cret-toke", "s3cret-token ", "S3cret-token"] {
            assert!(!super::same_secret(other, "s3cret-token"), "{other:?}");
        }
    }
}
