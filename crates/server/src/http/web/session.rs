//! Who is signed in in this browser, and CSRF protection for its forms.
//!
//! One browser can hold several accounts at once (A6): the accounts cookie
//! lists their session tokens, the active one first. Every page request
//! checks each token (a revoked or expired session drops out of the list at
//! once) and the [`WebSession`] handle lets a handler add, switch or remove
//! accounts; the middleware writes the cookie back when it changed.
//!
//! CSRF: a random value in its own cookie; forms carry an HMAC of it, which
//! [`CsrfForm`] checks. Cookies are HttpOnly and SameSite=Lax, and Secure with
//! the `__Host-` prefix when the server is reached over HTTPS.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::errors;
use super::pages::{self, Viewer};
use crate::domain::actor::Actor;
use crate::domain::sessions;
use crate::domain::tokens;
use crate::error::Error;
use crate::state::App;

/// At most this many accounts are signed in in one browser.
pub const MAX_ACCOUNTS: usize = 5;

#[derive(Clone, Debug)]
pub struct Account {
    pub token: String,
    pub keep: bool,
    pub actor: Actor,
}

#[derive(Debug, Default)]
struct State {
    accounts: Vec<Account>,
    dirty: bool,
}

/// The accounts signed in in this browser; the first is the one acting.
#[derive(Clone)]
pub struct WebSession {
    state: Arc<Mutex<State>>,
    csrf_token: String,
}

impl WebSession {
    pub fn accounts(&self) -> Vec<Account> {
        self.state.lock().expect("session lock").accounts.clone()
    }

    pub fn active(&self) -> Option<Account> {
        self.state
            .lock()
            .expect("session lock")
            .accounts
            .first()
            .cloned()
    }

    /// Makes a newly signed-in account the active one.
    pub fn add(&self, token: String, keep: bool, actor: Actor) {
        let mut s = self.state.lock().expect("session lock");
        s.accounts.retain(|a| a.actor.user_id != actor.user_id);
        s.accounts.insert(0, Account { token, keep, actor });
        s.accounts.truncate(MAX_ACCOUNTS);
        s.dirty = true;
    }

    /// Makes the account of `user_id` the active one; false if it is not signed in here.
    pub fn switch(&self, user_id: &str) -> bool {
        let mut s = self.state.lock().expect("session lock");
        let Some(i) = s.accounts.iter().position(|a| a.actor.user_id == user_id) else {
            return false;
        };
        let a = s.accounts.remove(i);
        s.accounts.insert(0, a);
        s.dirty = true;
        true
    }

    /// Forgets the account of `user_id` in this browser and returns it.
    pub fn remove(&self, user_id: &str) -> Option<Account> {
        let mut s = self.state.lock().expect("session lock");
        let i = s.accounts.iter().position(|a| a.actor.user_id == user_id)?;
        s.dirty = true;
        Some(s.accounts.remove(i))
    }
}

impl Viewer for WebSession {
    fn user_ids(&self) -> Vec<String> {
        let s = self.state.lock().expect("session lock");
        s.accounts.iter().map(|a| a.actor.user_id.clone()).collect()
    }

    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn cookie_name(app: &App, base: &str) -> String {
    if secure(app) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// Cookies are `Secure` (and `__Host-`) when people reach the server over
/// HTTPS: an https public URL, which built-in TLS always has.
fn secure(app: &App) -> bool {
    app.settings.is_https()
}

fn build_cookie(app: &App, base: &str, value: String, persistent: bool) -> Cookie<'static> {
    let mut c = Cookie::build((cookie_name(app, base), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(app));
    if persistent {
        c = c.max_age(cookie::time::Duration::days(30));
    }
    c.build()
}

/// A short-lived cookie of its own (a sign-in through a provider under way),
/// HttpOnly and SameSite=Lax like the others, so that it comes back with
/// the provider's redirect; an empty value with no age removes it.
pub fn short_cookie(app: &App, base: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let c = Cookie::build((cookie_name(app, base), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(app))
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&c.to_string()).expect("cookie values are header-safe")
}

/// The value of the cookie `base` in a request.
pub fn read_cookie(app: &App, headers: &HeaderMap, base: &str) -> Option<String> {
    let name = cookie_name(app, base);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_owned()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn csrf_for(app: &App, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&app.csrf_key).expect("HMAC takes any key length");
    mac.update(secret.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

const ACCOUNTS: &str = "postroom_accounts";
const CSRF: &str = "postroom_csrf";
/// The header that carries the CSRF token on API requests made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The two cookies Postroom sets in a browser, as the request sent them.
struct BrowserCookies {
    accounts: Option<String>,
    csrf: Option<String>,
}

impl BrowserCookies {
    fn read(app: &App, headers: &HeaderMap) -> BrowserCookies {
        let (accounts_name, csrf_name) = (cookie_name(app, ACCOUNTS), cookie_name(app, CSRF));
        let mut cookies = BrowserCookies {
            accounts: None,
            csrf: None,
        };
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for c in Cookie::split_parse(value).flatten() {
                if c.name() == accounts_name {
                    cookies.accounts = Some(c.value().to_owned());
                } else if c.name() == csrf_name {
                    cookies.csrf = Some(c.value().to_owned());
                }
            }
        }
        cookies
    }

    /// The accounts cookie's entries in order, the active account first:
    /// whether it was "kept signed in", and its token (`None` when the entry
    /// is not one Postroom wrote).
    fn entries(&self) -> impl Iterator<Item = Option<(bool, &str)>> {
        self.accounts
            .as_deref()
            .unwrap_or_default()
            .split('.')
            .filter(|e| !e.is_empty())
            .take(MAX_ACCOUNTS)
            .map(|entry| match entry.split_at_checked(1) {
                Some(("k", t)) => Some((true, t)),
                Some(("s", t)) => Some((false, t)),
                _ => None,
            })
    }

    /// The CSRF secret, when the browser holds one Postroom could have made.
    fn csrf_secret(&self) -> Option<&str> {
        self.csrf.as_deref().filter(|v| tokens::well_formed(v, ""))
    }
}

/// Whether an error from [`sessions::authenticate`] means the session is
/// over, rather than that it could not be checked just now.
fn session_ended(err: &Error) -> bool {
    matches!(err, Error::Unauthenticated { .. })
}

/// The JSON API's reading of the browser's cookies: the web's session cookie
/// is accepted there too, and the account acting is the one acting on the
/// pages (the first in the cookie whose session is still live). A cookie
/// whose sessions have all ended counts as no cookie.
///
/// A request that changes something must also carry the pages' CSRF token in
/// `X-CSRF-Token` (each page has it in `<meta name="csrf-token">`): the
/// cookie alone is exactly what a forged cross-site request would carry.
pub async fn api_actor_as(
    app: &App,
    parts: &Parts,
    activity: sessions::Activity,
) -> Result<Option<Actor>, Error> {
    let cookies = BrowserCookies::read(app, &parts.headers);
    let mut actor = None;
    for (_, token) in cookies.entries().flatten() {
        match sessions::authenticate_as(app, token, activity).await {
            Ok(a) => {
                actor = Some(a);
                break;
            }
            Err(e) if session_ended(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    let Some(actor) = actor else { return Ok(None) };
    if !parts.method.is_safe() {
        let expected = cookies.csrf_secret().map(|secret| csrf_for(app, secret));
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let valid = match (expected, sent) {
            (Some(expected), Some(sent)) => sent.as_bytes().ct_eq(expected.as_bytes()).into(),
            _ => false,
        };
        if !valid {
            return Err(Error::forbidden(
                "csrf_failed",
                "a change made with the session cookie must carry the page's CSRF token in \
                 `X-CSRF-Token` (from <meta name=\"csrf-token\">); API clients send \
                 `Authorization: Bearer <token>` or `X-Api-Key` instead",
            ));
        }
    }
    Ok(Some(actor))
}

/// Resolves the signed-in accounts before a page handler runs, and writes
/// the cookies back after it when they changed.
pub async fn middleware(
    axum::extract::State(app): axum::extract::State<App>,
    mut req: Request,
    next: Next,
) -> Response {
    let cookies = BrowserCookies::read(&app, req.headers());
    let mut state = State::default();
    for entry in cookies.entries() {
        let Some((keep, token)) = entry else {
            state.dirty = true;
            continue;
        };
        match sessions::authenticate(&app, token).await {
            Ok(actor)
                if !state
                    .accounts
                    .iter()
                    .any(|a| a.actor.user_id == actor.user_id) =>
            {
                state.accounts.push(Account {
                    token: token.to_owned(),
                    keep,
                    actor,
                })
            }
            // Could not be checked just now (the database is unreachable):
            // an error page, and the cookie stays as it is. Going on with
            // the other accounts would act as the wrong one.
            Err(e) if !session_ended(&e) => return errors::error_response(e),
            // Revoked, expired or a duplicate: forget it.
            _ => state.dirty = true,
        }
    }
    let new_csrf = match cookies.csrf_secret() {
        Some(_) => None,
        None => Some(tokens::random_token(32)),
    };
    let csrf_secret = new_csrf
        .as_deref()
        .or(cookies.csrf_secret())
        .unwrap_or_default()
        .to_owned();
    let session = WebSession {
        state: Arc::new(Mutex::new(state)),
        csrf_token: csrf_for(&app, &csrf_secret),
    };
    req.extensions_mut().insert(session.clone());
    let response = next.run(req).await;
    let mut response = pages::with_session(response, &app, &session).await;

    let state = session.state.lock().expect("session lock");
    let headers = response.headers_mut();
    if state.dirty {
        let value: Vec<String> = state
            .accounts
            .iter()
            .map(|a| format!("{}{}", if a.keep { "k" } else { "s" }, a.token))
            .collect();
        let persistent = state.accounts.iter().any(|a| a.keep);
        let mut c = build_cookie(&app, ACCOUNTS, value.join("."), persistent);
        if value.is_empty() {
            c.make_removal();
        }
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    if let Some(secret) = new_csrf {
        if let Ok(v) = HeaderValue::from_str(&build_cookie(&app, CSRF, secret, false).to_string()) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<WebSession>()
            .cloned()
            .ok_or_else(|| errors::error_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR))
    }
}

/// Checks a submitted form's `csrf` field against the browser's CSRF cookie.
pub fn check_csrf(session: &WebSession, submitted: Option<&str>) -> bool {
    let expected = session.csrf_token.as_bytes();
    submitted.is_some_and(|s| s.as_bytes().ct_eq(expected).into())
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

/// A URL-encoded form whose CSRF token was checked. A form without a valid
/// token is refused with a 403 page and nothing is done.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<App> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let session = req.extensions().get::<WebSession>().cloned();
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(|_| errors::error_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE))?;
        let csrf: Option<CsrfField> = serde_urlencoded::from_bytes(&bytes).ok();
        let ok = session
            .as_ref()
            .is_some_and(|s| check_csrf(s, csrf.and_then(|c| c.csrf).as_deref()));
        if !ok {
            return Err(errors::csrf_refused());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|_| errors::error_status(axum::http::StatusCode::BAD_REQUEST))
    }
}

/// A page that needs someone signed in: the active account and the
/// session handle. Anyone else is sent to the sign-in page, and back after.
pub struct SignedIn {
    pub account: Account,
    pub session: WebSession,
}

impl SignedIn {
    pub fn actor(&self) -> &Actor {
        &self.account.actor
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = WebSession::from_request_parts(parts, state).await?;
        match session.active() {
            Some(account) => Ok(SignedIn { account, session }),
            None => {
                let next = pages::local_path(parts.uri.path_and_query().map(|p| p.as_str()));
                let target = format!(
                    "/sign-in?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(pages::see_other(&target))
            }
        }
    }
}
