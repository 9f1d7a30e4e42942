//! The OAuth endpoints programs call (A5): the authorization server's
//! metadata (RFC 8414), device authorization (RFC 8628) and the token
//! endpoint (RFC 6749). They are not under `/api/v1` because they follow
//! the RFCs rather than the API's conventions: form-encoded requests, and
//! `{"error", "error_description"}` answers with the RFCs' codes. The pages
//! a person sees (`/oauth/authorize`, `/device`) are `web::oauth`'s.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use postroom_core::api;
use serde::Serialize;

use crate::domain::oauth::{self, OAuthError, Params};
use crate::error::Error;
use crate::http::extract::ClientInfo;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth/device", post(device))
        .route("/oauth/token", post(token))
}

async fn metadata(State(app): State<App>) -> Json<api::AuthorizationServerMetadata> {
    Json(oauth::metadata(&app))
}

/// The request's form-encoded parameters (RFC 6749 §3.2).
fn form(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Params, OAuthError> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let refuse = |description: &str| OAuthError::Refused {
        error: "invalid_request",
        description: description.to_owned(),
    };
    if !form_encoded {
        return Err(refuse(
            "send the parameters form-encoded (application/x-www-form-urlencoded)",
        ));
    }
    let body = body.map_err(|_| refuse("the request body could not be read, or is too large"))?;
    Ok(Params::parse(&body))
}

async fn device(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answer = match form(&headers, body) {
        Ok(params) => oauth::authorize_device(&app, &client, &params).await,
        Err(e) => Err(e),
    };
    respond(answer)
}

async fn token(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answer = match form(&headers, body) {
        Ok(params) => oauth::token(&app, &client, &params).await,
        Err(e) => Err(e),
    };
    respond(answer)
}

/// A JSON answer that no cache keeps (RFC 6749 §5.1); a refusal is 400 with
/// the RFC's code, and any other error keeps its status with its code
/// (`rate_limited`, with `Retry-After`; a 500 is `server_error`, its cause
/// logged by the edge).
fn respond<T: Serialize>(answer: Result<T, OAuthError>) -> Response {
    let mut response = match answer {
        Ok(body) => Json(body).into_response(),
        Err(OAuthError::Refused { error, description }) => (
            StatusCode::BAD_REQUEST,
            Json(api::OAuthError {
                error: error.to_owned(),
                error_description: Some(description),
            }),
        )
            .into_response(),
        Err(OAuthError::Failed(e)) => failed(e),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn failed(e: Error) -> Response {
    let status = e.status();
    let error = if status.is_server_error() {
        "server_error"
    } else {
        e.code()
    };
    let body = api::OAuthError {
        error: error.to_owned(),
        error_description: Some(e.body().error.message),
    };
    let mut response = (status, Json(body)).into_response();
    if let Error::TooManyRequests {
        retry_after_secs, ..
    } = &e
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from((*retry_after_secs).max(1)),
        );
    }
    if let Some(cause) = e.failure_cause() {
        response.extensions_mut().insert(cause);
    }
    response
}
