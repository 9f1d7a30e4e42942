//! The dashboard's stylesheet, script and images, compiled into the binary
//! and served with long cache lifetimes (their URLs carry a content hash).

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::App;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "sync.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/sync.js"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/passkeys.js"),
    ),
    (
        "billing.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/billing.js"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("assets/logo.svg"),
    ),
];

pub fn router() -> Router<App> {
    Router::new().route("/assets/{file}", get(serve))
}

/// `/assets/<file>?v=<hash>`: the URL to use in pages.
pub fn url(file: &str) -> String {
    static HASHES: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, _, bytes)| (*name, hex::encode(&Sha256::digest(bytes)[..6])))
            .collect()
    });
    let v = hashes
        .iter()
        .find(|(n, _)| *n == file)
        .map(|(_, h)| h.as_str())
        .unwrap_or("0");
    format!("/assets/{file}?v={v}")
}

async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
