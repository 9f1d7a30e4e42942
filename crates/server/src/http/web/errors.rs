//! Error pages, in the dashboard's look. They are made where no session is
//! at hand (extractors, rejections, the session middleware itself), so they
//! render as if nobody were signed in; `pages::with_session` renders them
//! again for the signed-in account.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::render::render_response;
use crate::error::Error;

/// A page for an error status, in the dashboard's look.
pub fn error_status(status: StatusCode) -> Response {
    let (heading, text) = match status.as_u16() {
        403 => (
            "You can't do that",
            "You don't have access to this page or action.",
        ),
        404 => (
            "Page not found",
            "There is nothing here. The link may be old or mistyped.",
        ),
        413 => (
            "That was too large",
            "What you sent is larger than this server accepts.",
        ),
        429 => (
            "Slow down",
            "There were too many attempts. Wait a few minutes and try again.",
        ),
        400 | 422 => (
            "That did not work",
            "The request could not be understood. Go back and try again.",
        ),
        _ => (
            "Something went wrong",
            "It was logged, and it is not your fault. Try again in a moment.",
        ),
    };
    error_page(
        status,
        json!({ "title": heading, "status": status.as_u16(), "heading": heading, "text": text, "narrow": true }),
    )
}

pub fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        json!({
            "title": "This form has expired", "status": 403, "heading": "This form has expired",
            "text": "It was opened too long ago or did not come from this site. Go back, reload the page and try again.",
            "narrow": true,
        }),
    )
}

/// Marks a response as an error page, with the context it was rendered from.
#[derive(Clone)]
pub(super) struct ErrorPage(pub(super) serde_json::Value);

/// Error pages are made where no session is at hand (extractors, rejections),
/// so they render as if nobody were signed in; [`with_session`](super::pages::with_session) renders them
/// again with the signed-in account once the session middleware has one.
fn error_page(status: StatusCode, ctx: serde_json::Value) -> Response {
    let mut response = render_response(status, "error.html", ctx.clone());
    response.extensions_mut().insert(ErrorPage(ctx));
    response
}

/// The page for an error a form cannot show next to its fields.
pub fn error_response(e: Error) -> Response {
    let status = e.status();
    let mut response = error_status(status);
    if let Some(cause) = e.failure_cause() {
        response.extensions_mut().insert(cause);
    }
    if let Error::TooManyRequests {
        retry_after_secs, ..
    } = e
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        );
    }
    response
}
