//! Signing in through OpenID providers (A2) and teams' single sign-on (A7):
//! `/auth/oidc/{id}` and `/auth/sso/{slug}` send the browser to the
//! provider, their `/callback` receives it back, and `/auth/oidc/continue`
//! asks what a first sign-in still needs (a username, or proof of the
//! account with the same address). The flow is `domain::oidc`'s; what this
//! module adds is the browser's side: the cookie that binds a sign-in to
//! this browser, the pages, and [`finish_sign_in`].
//!
//! Starting a link (settings) or a test (team settings) is a GET that
//! carries the page's CSRF token in its query: a link, not a form, since a
//! form's redirect to the provider would be held by `form-action`.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::pages::{
    capitalise, enc, local_next, see_other, FormError, OrForm, Page, PageError, PageResult,
};
use super::session::{check_csrf, read_cookie, short_cookie, CsrfForm, SignedIn, WebSession};
use crate::domain::actor::Client;
use crate::domain::oidc::{self, Begun, Outcome, Provider, Returned};
use crate::domain::sessions;
use crate::domain::teams::sso;
use crate::error::Error;
use crate::http::extract::ClientInfo;
use crate::state::App;
use crate::store::users::UserRow;

/// The cookie holding the sign-in under way in this browser.
const COOKIE: &str = "postroom_oidc";

pub fn router() -> Router<App> {
    Router::new()
        .route("/auth/oidc/continue", get(continue_page))
        .route("/auth/oidc/continue/account", post(create_account))
        .route("/auth/oidc/continue/password", post(prove_with_password))
        .route(
            "/auth/oidc/continue/provider/{id}",
            get(prove_with_provider),
        )
        .route("/auth/oidc/{id}", get(start))
        .route("/auth/oidc/{id}/link", get(start_link))
        .route("/auth/oidc/{id}/callback", get(callback))
        .route("/auth/sso/{slug}", get(start_sso))
        .route("/auth/sso/{slug}/callback", get(sso_callback))
        .route("/teams/{slug}/sso/test", get(start_test))
}

/// Begins a web session for `user`, whom a provider proved (or a provider
/// and then their password, for a first link): the one place where a
/// sign-in through a provider ends, as `auth::sign_in` is for passwords.
/// Through `sessions::begin_web`, as the password sign-in goes: an account
/// with two-step verification is asked for its code first (the provider is
/// its first factor); otherwise the session starts (`sessions::start`
/// refuses a disabled account), the account joins this browser's accounts
/// as the active one, and the person goes on to onboarding or to `next`.
pub async fn finish_sign_in(
    app: &App,
    session: &WebSession,
    client: &Client,
    user: &UserRow,
    keep: bool,
    next: Option<&str>,
) -> Result<Response, Error> {
    let outcome = sessions::begin_web(app, user, keep, client).await?;
    Ok(super::auth::signed_in_or_second_step(app, session, outcome, next).await)
}

fn message(title: &str, paragraphs: &[String], action: (&str, &str)) -> Page {
    Page::new("message.html", title.to_owned())
        .with("narrow", true)
        .with("heading", title)
        .with("kind", "error")
        .with("paragraphs", paragraphs)
        .with(
            "action",
            serde_json::json!({ "href": action.0, "label": action.1 }),
        )
}

/// A failed sign-in through a provider, as a page that says what happened
/// and what to do (never a bare error page, never a 500 for the provider's
/// failings).
async fn failed(app: &App, session: &WebSession, e: Error) -> Response {
    if let Error::Internal(_) = e {
        return PageError::Error(e).into_response();
    }
    let title = match e.code() {
        "sign_in_cancelled" => "Sign-in cancelled",
        "provider_unreachable" => "The sign-in provider did not answer",
        "sign_in_state_invalid" | "sign_in_expired" => "This sign-in cannot go on",
        "account_disabled" => "This account is disabled",
        "sso_required" => "Single sign-on required",
        "identity_taken" | "provider_already_linked" => "Already linked",
        _ => "Signing in did not work",
    };
    let status = e.status();
    let text = capitalise(&e.body().error.message);
    let back = if session.active().is_some() {
        ("/settings/security", "Back to settings")
    } else {
        ("/sign-in", "Back to sign in")
    };
    message(title, &[text], back)
        .status(status)
        .render(app, session)
        .await
}

fn with_cookie(mut response: Response, app: &App, value: &str, max_age: i64) -> Response {
    response.headers_mut().append(
        header::SET_COOKIE,
        short_cookie(app, COOKIE, value, max_age),
    );
    response
}

/// Sends the browser to the provider, holding the request's value.
fn to_provider(app: &App, begun: Begun) -> Response {
    let secs = oidc::REQUEST_TTL / 1000;
    with_cookie(see_other_external(&begun.url), app, &begun.token, secs)
}

/// A 303 to another site (the provider); `see_other` keeps to local paths.
fn see_other_external(url: &str) -> Response {
    match header::HeaderValue::from_str(url) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => see_other("/sign-in"),
    }
}

#[derive(Deserialize, Default)]
struct StartQuery {
    next: Option<String>,
    keep: Option<String>,
    login_hint: Option<String>,
    csrf: Option<String>,
}

async fn begin_sign_in(
    app: &App,
    session: &WebSession,
    provider: Result<Provider, Error>,
    q: StartQuery,
) -> Response {
    let result = async {
        let provider = provider?;
        let next = local_next(q.next.as_deref());
        let hint = q.login_hint.as_deref().filter(|h| h.len() <= 254);
        oidc::begin(
            app,
            &provider,
            oidc::Purpose::SignIn,
            oidc::Begin {
                next: next.as_deref(),
                keep_signed_in: q.keep.is_some(),
                login_hint: hint,
                ..Default::default()
            },
        )
        .await
    }
    .await;
    match result {
        Ok(begun) => to_provider(app, begun),
        Err(e) => failed(app, session, e).await,
    }
}

async fn start(
    State(app): State<App>,
    session: WebSession,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    let provider = oidc::configured(&app, &id);
    begin_sign_in(&app, &session, provider, q).await
}

async fn start_sso(
    State(app): State<App>,
    session: WebSession,
    Path(slug): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    let provider = sso::provider(&app, &slug).await;
    begin_sign_in(&app, &session, provider, q).await
}

/// Links another provider to the signed-in account (from settings).
async fn start_link(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    if !check_csrf(&signed.session, q.csrf.as_deref()) {
        return super::errors::csrf_refused();
    }
    let result = async {
        let provider = oidc::configured(&app, &id)?;
        oidc::begin_link(&app, signed.actor(), &provider).await
    }
    .await;
    match result {
        Ok(begun) => to_provider(&app, begun),
        Err(e) => failed(&app, &signed.session, e).await,
    }
}

/// An admin tests the team's single sign-on (team settings).
async fn start_test(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    if !check_csrf(&signed.session, q.csrf.as_deref()) {
        return super::errors::csrf_refused();
    }
    match sso::begin_test(&app, signed.actor(), &slug).await {
        Ok(begun) => to_provider(&app, begun),
        Err(e @ (Error::NotFound { .. } | Error::Forbidden { .. })) => {
            PageError::Error(e).into_response()
        }
        Err(e) => failed(&app, &signed.session, e).await,
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let provider = oidc::configured(&app, &id);
    returned(&app, &session, &client, &headers, provider, q).await
}

async fn sso_callback(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let provider = sso::provider(&app, &slug).await;
    returned(&app, &session, &client, &headers, provider, q).await
}

async fn returned(
    app: &App,
    session: &WebSession,
    client: &Client,
    headers: &HeaderMap,
    provider: Result<Provider, Error>,
    q: CallbackQuery,
) -> Response {
    let cookie = read_cookie(app, headers, COOKIE);
    let result = async {
        let provider = provider?;
        let outcome = oidc::callback(
            app,
            &provider,
            Returned {
                state: q.state.as_deref(),
                cookie: cookie.as_deref(),
                code: q.code.as_deref(),
                error: q.error.as_deref(),
            },
        )
        .await?;
        outcome_response(app, session, client, outcome).await
    }
    .await;
    match result {
        Ok(r) => r,
        // The request is spent: the cookie goes with it.
        Err(e) => with_cookie(failed(app, session, e).await, app, "", 0),
    }
}

async fn outcome_response(
    app: &App,
    session: &WebSession,
    client: &Client,
    outcome: Outcome,
) -> Result<Response, Error> {
    Ok(match outcome {
        Outcome::SignIn {
            user,
            keep_signed_in,
            next,
        } => with_cookie(
            finish_sign_in(app, session, client, &user, keep_signed_in, next.as_deref()).await?,
            app,
            "",
            0,
        ),
        Outcome::Linked { .. } => with_cookie(
            see_other("/settings/security?flash=provider_linked"),
            app,
            "",
            0,
        ),
        Outcome::Tested { slug } => with_cookie(
            see_other(&format!("/teams/{slug}/sso?flash=sso_tested")),
            app,
            "",
            0,
        ),
        Outcome::Continue { token } => with_cookie(
            see_other("/auth/oidc/continue"),
            app,
            &token,
            oidc::REQUEST_TTL / 1000,
        ),
        Outcome::CheckEmail { email, next } => {
            let mut path = format!("/check-email?email={}", enc(&email));
            if let Some(next) = local_next(next.as_deref()) {
                path.push_str(&format!("&next={}", enc(&next)));
            }
            with_cookie(see_other(&path), app, "", 0)
        }
    })
}

#[derive(Deserialize, Default, serde::Serialize)]
struct ContinueForm {
    #[serde(default)]
    username: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    accept_terms: Option<String>,
}

async fn continue_form(
    app: &App,
    token: Option<&str>,
    form: &ContinueForm,
    fe: FormError,
) -> Result<Page, Error> {
    let c = oidc::continuation(app, token).await?;
    let title = if c.existing.is_some() {
        "You already have an account"
    } else {
        "Choose your username"
    };
    let mut form_view = serde_json::to_value(form).unwrap_or_default();
    if form.username.is_empty() {
        form_view["username"] = c.suggested_username.clone().into();
    }
    Ok(Page::new("oidc_continue.html", title)
        .with("narrow", true)
        .with("heading", title)
        .with("c", &c)
        .with("form", form_view)
        .with(
            "terms_url",
            app.settings.terms_url.as_ref().map(|u| u.as_str()),
        )
        .with_errors(fe))
}

async fn continue_page(
    State(app): State<App>,
    session: WebSession,
    headers: HeaderMap,
) -> Response {
    let token = read_cookie(&app, &headers, COOKIE);
    match continue_form(
        &app,
        token.as_deref(),
        &ContinueForm::default(),
        FormError::default(),
    )
    .await
    {
        Ok(page) => page.render(&app, &session).await,
        Err(e) => failed(&app, &session, e).await,
    }
}

async fn create_account(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<ContinueForm>,
) -> PageResult {
    let token = read_cookie(&app, &headers, COOKIE);
    let outcome = oidc::create_account(
        &app,
        token.as_deref(),
        &oidc::NewAccount {
            username: &form.username,
            accept_terms: form.accept_terms.is_some(),
        },
        &client,
    )
    .await;
    settle(&app, &session, &client, token.as_deref(), &form, outcome).await
}

async fn prove_with_password(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<ContinueForm>,
) -> PageResult {
    let token = read_cookie(&app, &headers, COOKIE);
    let outcome = oidc::prove_with_password(&app, token.as_deref(), &form.password, &client).await;
    settle(&app, &session, &client, token.as_deref(), &form, outcome).await
}

/// A continue form's outcome: the form again with what to fix, a page for
/// what cannot go on, or where the outcome leads.
async fn settle(
    app: &App,
    session: &WebSession,
    client: &Client,
    token: Option<&str>,
    form: &ContinueForm,
    outcome: Result<Outcome, Error>,
) -> PageResult {
    let outcome = match outcome {
        Ok(o) => o,
        Err(e)
            if FormError::from(&e).is_some()
                && !matches!(
                    e.code(),
                    "sign_in_state_invalid"
                        | "sign_in_expired"
                        | "identity_taken"
                        | "account_disabled"
                        | "sso_required"
                ) =>
        {
            return Err::<Response, Error>(e)
                .or_form(app, session, async |fe| {
                    continue_form(app, token, form, fe).await
                })
                .await;
        }
        Err(e) => return Ok(failed(app, session, e).await),
    };
    match outcome_response(app, session, client, outcome).await {
        Ok(r) => Ok(r),
        Err(e) => Ok(failed(app, session, e).await),
    }
}

/// Proves the account through a provider already linked to it.
async fn prove_with_provider(
    State(app): State<App>,
    session: WebSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    if !check_csrf(&session, q.csrf.as_deref()) {
        return super::errors::csrf_refused();
    }
    let token = read_cookie(&app, &headers, COOKIE);
    let result = async {
        let provider = oidc::configured(&app, &id)?;
        oidc::prove_with_provider(&app, token.as_deref(), &provider).await
    }
    .await;
    match result {
        Ok(begun) => to_provider(&app, begun),
        Err(e) => failed(&app, &session, e).await,
    }
}

/// The providers people may sign in with, as (id, name), for the sign-in
/// and sign-up pages' "Continue with" buttons.
pub fn providers(app: &App) -> Vec<(String, String)> {
    app.settings
        .oidc
        .iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect()
}
