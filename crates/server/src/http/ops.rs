//! Health checks and `GET /metrics` (open, or behind `metrics_token`).
//!
//! - `GET /healthz/live`: 200 while the process serves requests at all.
//! - `GET /healthz/ready`: 200 when this node is wholly at work: its database
//!   answers, its schema is the one this binary migrates to (not older, nor
//!   newer from a newer node), and its mail worker is alive; else 503. The
//!   body names each check: `{status, checks: {database, migrations,
//!   mail_worker}}`, each with `ok` and no secret.
//! - `GET /healthz`: as before these existed, 200 when the database answers,
//!   so load balancers keep sending requests to a node that can answer them
//!   even while its mail worker is down (queued mail waits in the database,
//!   and other nodes' workers send it).

use std::time::{Duration, Instant};

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
        .route("/healthz/live", get(live))
        .route("/healthz/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// The longest the readiness check waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(5);

/// 200 while the process serves.
async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 when every check passes, 503 naming the ones that fail.
async fn ready(State(app): State<App>) -> impl IntoResponse {
    let versions = tokio::time::timeout(DATABASE_WAIT, async {
        app.store.ping().await?;
        app.store.schema_versions().await
    })
    .await;
    let (database, migrations) = match versions {
        Ok(Ok((applied, binary))) => (
            json!({ "ok": true }),
            json!({ "ok": applied == Some(binary), "schema": applied, "binary": binary }),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            let unknown = json!({ "ok": false, "error": "the database does not answer" });
            (
                json!({ "ok": false, "error": database_trouble(&e) }),
                unknown,
            )
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within 5 s");
            let unknown = json!({ "ok": false, "error": "the database does not answer" });
            (
                json!({ "ok": false, "error": "no answer within 5 s" }),
                unknown,
            )
        }
    };
    let worker = app.mail_worker.pulse().liveness(Instant::now());
    let mail_worker = json!({
        "ok": worker.alive,
        "state": worker.state,
        "seconds_since_last_run": worker.since_beat.map(|d| d.as_secs()),
    });
    let ok = [&database, &migrations, &mail_worker]
        .iter()
        .all(|check| check["ok"] == true);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ok { "ok" } else { "unavailable" },
            "checks": {
                "database": database,
                "migrations": migrations,
                "mail_worker": mail_worker,
            },
        })),
    )
}

/// What went wrong with the database, in words that hold no address, name
/// or credential (the log has the whole error).
fn database_trouble(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::PoolTimedOut => "no connection free within the time limit",
        sqlx::Error::PoolClosed => "the connection pool is closed",
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => "the database cannot be reached",
        sqlx::Error::Database(_) => "the database refused the query",
        _ => "the query failed",
    }
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
