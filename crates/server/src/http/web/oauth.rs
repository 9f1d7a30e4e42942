//! The pages where a person lets a program sign in (A5): the consent page of
//! `/oauth/authorize` (authorization code with PKCE, answered by a redirect
//! to the program on this computer) and `/device`, where the code a program
//! shows is entered (the device flow). The rules are `domain::oauth`'s; the
//! endpoints programs call are `http::oauth`.

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use url::Url;

use super::errors::error_response;
use super::pages::{enc, see_other, FormError, OrForm, Page, PageResult};
use super::render::allow_form_redirect;
use super::session::{CsrfForm, SignedIn, WebSession};
use crate::domain::oauth::{self, AuthorizeRefusal, Consent, Params};
use crate::error::Error;
use crate::http::extract::ClientInfo;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_decision),
        )
        .route("/device", get(device_page).post(device_code))
        .route("/device/decision", axum::routing::post(device_decision))
}

/// A 303 to the program's redirect URI on this computer (only ever a
/// loopback URL: `oauth::loopback_redirect` made it).
fn to_program(url: &Url) -> Response {
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => error_response(Error::bad_request(
            "invalid_request",
            "the redirect URI cannot be sent back",
        )),
    }
}

/// The CSP source of a redirect URI's origin. CSP cannot name an IPv6
/// address, so `[::1]` is any host on its port.
fn form_source(url: &Url) -> String {
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(url::Host::Ipv6(_)) | None => format!("http://*:{port}"),
        Some(host) => format!("http://{host}:{port}"),
    }
}

fn message(title: &str, kind: &str, text: &str) -> Page {
    Page::new("message.html", title.to_owned())
        .with("narrow", true)
        .with("heading", title)
        .with("kind", kind)
        .with("paragraphs", [text])
}

fn consent_page(consent: &Consent, action: &str, next: &str) -> Page {
    Page::new(
        "oauth_consent.html",
        format!("Sign in {}?", consent.client_name),
    )
    .with("narrow", true)
    .with("consent", consent)
    .with("action", action)
    .with("next", enc(next))
}

/// `GET /oauth/authorize`: a request that names no acceptable client or
/// redirect URI is refused on a page; any other problem goes back to the
/// program; someone signed out signs in first and comes back; then the
/// consent page.
async fn authorize_page(
    State(app): State<App>,
    session: WebSession,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let req = match oauth::check_authorize(&params) {
        Ok(req) => req,
        Err(AuthorizeRefusal::Redirect(url)) => return to_program(&url),
        Err(AuthorizeRefusal::Page(text)) => {
            return message("This sign-in cannot go on", "error", text)
                .status(StatusCode::BAD_REQUEST)
                .render(&app, &session)
                .await
        }
    };
    let path = req.path();
    let Some(account) = session.active() else {
        return see_other(&format!("/sign-in?next={}", enc(&path)));
    };
    let request = match oauth::begin_authorization(&app, &account.actor, &req).await {
        Ok(id) => id,
        Err(e) => return error_response(e),
    };
    let origin = req.redirect.origin().ascii_serialization();
    let mut response = consent_page(&req.consent(), "/oauth/authorize", &path)
        .with("request", request)
        .with("returns_to", origin)
        .render(&app, &session)
        .await;
    allow_form_redirect(&mut response, &form_source(&req.redirect));
    response
}

#[derive(Deserialize)]
struct AuthorizeForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// What a decision that could not be made shows.
fn request_problem(e: &Error) -> Option<FormError> {
    match e {
        Error::NotFound { .. } => Some(FormError {
            error: Some(
                "This sign-in request is not known here, or it was shown to another account. Start again from the program."
                    .into(),
            ),
            ..Default::default()
        }),
        e => FormError::from(e),
    }
}

/// `POST /oauth/authorize`: Approve sends the browser back to the program
/// with a code, Deny with `access_denied`.
async fn authorize_decision(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<AuthorizeForm>,
) -> PageResult {
    let approve = form.decision == "approve";
    let url = oauth::decide_authorization(&app, signed.actor(), &form.request, approve)
        .await
        .or_form_with(request_problem, &app, &signed.session, async |fe| {
            Ok(message(
                "This sign-in cannot go on",
                "error",
                fe.error.as_deref().unwrap_or_default(),
            ))
        })
        .await?;
    Ok(to_program(&url))
}

#[derive(Deserialize, Default)]
struct DeviceForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    decision: String,
}

/// The code as it was typed, kept for the form (never longer than a code
/// could be written).
fn typed(code: &str) -> String {
    code.trim().chars().take(20).collect()
}

fn device_form(user_code: &str, fe: FormError) -> Page {
    Page::new("device.html", "Sign in a device")
        .with("narrow", true)
        .with("user_code", typed(user_code))
        .with_errors(fe)
}

/// How the device page shows a code that did not work.
fn code_problem(e: &Error) -> Option<FormError> {
    let text = match e {
        Error::NotFound { .. } => {
            "That code is not valid. Check the code the program shows and enter it again."
        }
        Error::BadRequest {
            code: "request_expired",
            ..
        } => "That code expired. Start the sign-in again in the program to get a new code.",
        Error::Conflict { .. } => "That code was already approved or denied.",
        e => return FormError::from(e),
    };
    let mut fe = FormError {
        error: Some("Please fix the code below.".into()),
        ..Default::default()
    };
    fe.errors.insert("user_code".into(), text.into());
    Some(fe)
}

#[derive(Deserialize)]
struct DeviceQuery {
    user_code: Option<String>,
}

/// `GET /device`: the form, filled in from `?user_code=` (the program's
/// complete verification link), which the person still checks and sends.
async fn device_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<DeviceQuery>,
) -> Response {
    device_form(
        q.user_code.as_deref().unwrap_or_default(),
        FormError::default(),
    )
    .render(&app, &signed.session)
    .await
}

/// `POST /device`: the consent page for the code entered.
async fn device_code(
    State(app): State<App>,
    signed: SignedIn,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<DeviceForm>,
) -> PageResult {
    let consent = oauth::find_device(&app, signed.actor(), &client, &form.user_code)
        .await
        .or_form_with(code_problem, &app, &signed.session, async |fe| {
            Ok(device_form(&form.user_code, fe))
        })
        .await?;
    let next = format!("/device?user_code={}", enc(&typed(&form.user_code)));
    Ok(consent_page(&consent, "/device/decision", &next)
        .with("user_code", typed(&form.user_code))
        .render(&app, &signed.session)
        .await)
}

/// `POST /device/decision`: approved, the program gets its session on its
/// next poll; denied, it is told so.
async fn device_decision(
    State(app): State<App>,
    signed: SignedIn,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<DeviceForm>,
) -> PageResult {
    let approve = form.decision == "approve";
    let consent = oauth::decide_device(&app, signed.actor(), &client, &form.user_code, approve)
        .await
        .or_form_with(code_problem, &app, &signed.session, async |fe| {
            Ok(device_form(&form.user_code, fe))
        })
        .await?;
    let page = if approve {
        message(
            "Device signed in",
            "ok",
            &format!(
                "{} is signed in to your account: it finds out at its next check, within seconds. You can close this page.",
                consent.label
            ),
        )
    } else {
        message(
            "Sign-in denied",
            "info",
            &format!("{} was not signed in.", consent.label),
        )
    };
    Ok(page.render(&app, &signed.session).await)
}
