//! The small pages that mailed links open: confirm an email address, confirm
//! an email change, choose a new password. Opening a link only shows a form;
//! the change happens when the form is sent, so mail scanners that follow
//! links change nothing. The token in the form is the credential, so these
//! forms need no session and no CSRF token.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::domain::accounts;
use crate::error::Error;
use crate::http::extract::ClientInfo;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/verify-email", get(verify_form).post(verify_submit))
        .route(
            "/confirm-email",
            get(confirm_email_form).post(confirm_email_submit),
        )
        .route("/reset-password", get(reset_form).post(reset_submit))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;background:#f4f5f7;font:16px/1.5 system-ui,sans-serif;color:#1f2430}\
main{max-width:440px;margin:10vh auto;background:#fff;border-radius:10px;padding:32px;box-shadow:0 1px 3px #0002}\
h1{font-size:22px;margin:0 0 12px}.brand{color:#e0551b;font-weight:700;margin:0 0 20px}\
label{display:block;margin:16px 0 4px;font-weight:600}input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #c7cbd1;border-radius:6px;font:inherit}\
button{margin-top:20px;background:#e0551b;color:#fff;border:0;border-radius:6px;padding:10px 18px;font:inherit;cursor:pointer}\
button:focus-visible,input:focus-visible{outline:3px solid #1f6feb;outline-offset:2px}.error{color:#b42318}.ok{color:#067647}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · Postroom</title><style>{STYLE}</style></head><body><main><p class=\"brand\">Postroom</p><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn error_page(e: Error) -> Response {
    if let Error::Internal(cause) = &e {
        tracing::error!(error = ?cause, "page failed");
    }
    let message = e.body().error.message;
    page(
        e.status(),
        "That did not work",
        &format!("<p class=\"error\">{}</p>", escape(&message)),
    )
}

async fn home() -> Response {
    page(
        StatusCode::OK,
        "Postroom is running",
        "<p>This server keeps accounts, teams and synced API collections.</p>\
         <p>The API is described at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
    )
}

fn token_form(action: &str, token: &str, text: &str, button: &str) -> String {
    format!(
        "<p>{}</p><form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(text),
        escape(token),
        escape(button)
    )
}

async fn verify_form(Query(q): Query<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        "Confirm your email",
        &token_form(
            "/verify-email",
            &q.token,
            "Confirm the email address of your Postroom account.",
            "Confirm my email",
        ),
    )
}

async fn verify_submit(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<TokenQuery>,
) -> Response {
    match accounts::verify_email(&app, &f.token, &client).await {
        Ok(user) => page(
            StatusCode::OK,
            "Email confirmed",
            &format!(
                "<p class=\"ok\">Thanks, {}: your email address is confirmed.</p>",
                escape(&user.username)
            ),
        ),
        Err(e) => error_page(e),
    }
}

async fn confirm_email_form(Query(q): Query<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        "Confirm your new email",
        &token_form(
            "/confirm-email",
            &q.token,
            "Use this address for your Postroom account from now on.",
            "Confirm the new address",
        ),
    )
}

async fn confirm_email_submit(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<TokenQuery>,
) -> Response {
    match accounts::confirm_email_change(&app, &f.token, &client).await {
        Ok(user) => page(
            StatusCode::OK,
            "Email changed",
            &format!(
                "<p class=\"ok\">Your account now uses {}.</p>",
                escape(&user.email)
            ),
        ),
        Err(e) => error_page(e),
    }
}

fn reset_body(token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"pw-error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"/reset-password\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"new_password\">New password</label>\
         <input type=\"password\" id=\"new_password\" name=\"new_password\" autocomplete=\"new-password\" minlength=\"8\" required aria-describedby=\"pw-help pw-error\">\
         <p id=\"pw-help\">At least 8 characters; long phrases are best.</p>{error}\
         <button type=\"submit\">Set new password</button></form>",
        escape(token)
    )
}

async fn reset_form(Query(q): Query<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        "Choose a new password",
        &reset_body(&q.token, None),
    )
}

async fn reset_submit(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    Form(f): Form<ResetForm>,
) -> Response {
    let req = postroom_core::api::ResetConfirmRequest {
        token: f.token.clone(),
        new_password: f.new_password,
    };
    match accounts::confirm_password_reset(&app, &req, &client).await {
        Ok(()) => page(StatusCode::OK, "Password changed", "<p class=\"ok\">Your password was changed and every session was signed out. Sign in with the new password.</p>"),
        Err(e @ Error::Invalid { .. }) => page(e.status(), "Choose a new password", &reset_body(&f.token, Some(&e.body().error.message))),
        Err(e) => error_page(e),
    }
}
