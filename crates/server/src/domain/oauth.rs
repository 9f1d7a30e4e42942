//! Browser sign-in for programs (A5): OAuth 2.0 for native apps (RFC 8252).
//! A program (the CLI, a desktop app) gets a session without ever seeing
//! the password: the person signs in on the web pages as usual and approves
//! the program there.
//!
//! Two ways, both ending at the token endpoint ([`token`]) with a normal
//! session kept signed in, named in the sessions list after the program and
//! its device ("postroom CLI on ada-laptop"):
//! - Authorization code with PKCE (RFC 6749 §4.1, RFC 7636 S256 only) and a
//!   loopback redirect: `/oauth/authorize` is checked by [`check_authorize`],
//!   recorded for the signed-in account when the consent page shows
//!   ([`begin_authorization`]), and decided there ([`decide_authorization`]),
//!   which sends the browser back to the program with a code or
//!   `access_denied`.
//! - Device authorization (RFC 8628) for a program without a browser at
//!   hand: [`authorize_device`] gives it a device code to poll with and a
//!   short user code that the person enters on `/device` (or a signed-in
//!   client sends to the API): [`find_device`], [`decide_device`].
//!
//! Programs are public clients and register nothing: any `client_id` of a
//! sane shape is accepted and shown to the person, who decides. What keeps
//! a code from reaching anyone else is the redirect, which may only go to
//! this machine (a loopback address), and PKCE, which makes a code useless
//! without the verifier only the program holds. Requests expire 5 minutes
//! after they were made and are single-use; their codes are stored hashed
//! and never logged. An authorization code used a second time ends the
//! session it gave (RFC 6749 §4.1.2).

use postroom_core::api::{self, CLI_CLIENT_ID, DEVICE_CODE_GRANT};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use super::accounts;
use super::actor::{Actor, Client};
use super::limits::{self, Check};
use super::sessions::{self, NewSession};
use super::tokens;
use crate::clock::{Millis, MINUTE, SECOND};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{
    self,
    oauth::{NewCodeRequest, NewDeviceRequest, OAuthRequestRow, Status},
};

/// How long a request may wait for the person and the program.
pub const REQUEST_LIFETIME: Millis = 5 * MINUTE;
/// The seconds a device waits between two polls, at first.
pub const POLL_INTERVAL_SECS: i64 = 5;
/// What a device that polls too fast adds to its interval (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;
const MAX_CLIENT_ID: usize = 64;
/// A longer device name is cut to this many characters.
pub const MAX_DEVICE_NAME: usize = 64;
const MAX_STATE: usize = 1024;
const MAX_REDIRECT_URI: usize = 2048;
/// User codes are made of these: consonants only, so that no code spells a
/// word, and none that is easily taken for another (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

/// Why an OAuth endpoint refuses a request: one of the RFCs' error codes
/// with a description (answered as JSON, or sent back to the program's
/// redirect URI), or any other error (a rate limit, an outage).
#[derive(Debug)]
pub enum OAuthError {
    Refused {
        error: &'static str,
        description: String,
    },
    Failed(Error),
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> OAuthError {
        OAuthError::Failed(e)
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> OAuthError {
        OAuthError::Failed(e.into())
    }
}

fn refused(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError::Refused {
        error,
        description: description.into(),
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    refused("invalid_grant", description)
}

/// A request's parameters, form- or query-encoded, as sent.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Params {
        Params(
            url::form_urlencoded::parse(encoded)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`; `None` when it is absent or empty (which
    /// counts as absent, RFC 6749 §3.1). A parameter sent twice is an
    /// `invalid_request`.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name);
        let first = values.next();
        if values.next().is_some() {
            return Err(refused(
                "invalid_request",
                format!("`{name}` was sent more than once"),
            ));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| refused("invalid_request", format!("`{name}` is missing")))
    }
}

/// A `client_id` of the accepted shape: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_client_id(client_id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&client_id.len())
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// How pages and the sessions list name a program: Postroom's own CLI by
/// its name, any other by its `client_id`.
pub fn client_name(client_id: &str) -> String {
    if client_id == CLI_CLIENT_ID {
        "postroom CLI".to_owned()
    } else {
        client_id.to_owned()
    }
}

/// What the sessions list calls a program's session: "postroom CLI on
/// ada-laptop", or the program's name alone when it named no device.
pub fn session_label(client_id: &str, device_name: Option<&str>) -> String {
    match device_name {
        Some(device) => format!("{} on {device}", client_name(client_id)),
        None => client_name(client_id),
    }
}

/// The name a program gives its device (`device_name`, not an OAuth
/// parameter: the CLI sends its host name): trimmed, none when empty, cut
/// to [`MAX_DEVICE_NAME`] characters, and refused when it holds control or
/// invisible characters (it is shown to the person as the program's).
pub fn device_name(raw: Option<&str>) -> Result<Option<String>, OAuthError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    postroom_core::check_display_text(name)
        .map_err(|e| refused("invalid_request", format!("`device_name` {}", e.0)))?;
    Ok(Some(name.chars().take(MAX_DEVICE_NAME).collect::<String>()))
}

/// A redirect URI a native app may use (RFC 8252 §7.3): `http` to this
/// machine's loopback interface (`127.0.0.1`, `[::1]` or `localhost`), on
/// any port, without credentials or a fragment. Nothing else is ever
/// redirected to.
pub fn loopback_redirect(raw: &str) -> Option<Url> {
    if raw.len() > MAX_REDIRECT_URI {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let loopback = match url.host()? {
        url::Host::Ipv4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        url::Host::Ipv6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
        url::Host::Domain(name) => name == "localhost",
    };
    let plain = url.scheme() == "http"
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    (loopback && plain).then_some(url)
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of a verifier.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` (RFC 7636 §4.1: 43 to 128 unreserved characters) is
/// the one `challenge` was made from, compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    shaped && bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes()))
}

/// An S256 challenge: the base64url form of 32 bytes.
fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn new_user_code() -> String {
    let mut bytes = [0u8; USER_CODE_LEN];
    tokens::fill_random(&mut bytes);
    // 256 is a multiple of 20 plus 16: taking each byte modulo 20 would
    // favour the first 16 letters slightly, so bytes past the last whole
    // multiple are drawn again.
    bytes
        .iter_mut()
        .map(|b| {
            while *b >= 240 {
                let mut again = [0u8; 1];
                tokens::fill_random(&mut again);
                *b = again[0];
            }
            USER_CODE_ALPHABET[(*b % 20) as usize] as char
        })
        .collect()
}

/// A user code as people read it: `BCDF-GHJK`.
pub fn format_user_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(USER_CODE_LEN / 2));
    format!("{a}-{b}")
}

/// A user code as typed (any case, with or without the dash or spaces) in
/// its stored form, or `None` when it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// What the person is asked to approve.
#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub client_id: String,
    /// The program's name ("postroom CLI").
    pub client_name: String,
    pub device_name: Option<String>,
    /// What its session will be called ("postroom CLI on ada-laptop").
    pub label: String,
}

impl Consent {
    pub fn new(client_id: &str, device_name: Option<&str>) -> Consent {
        Consent {
            client_id: client_id.to_owned(),
            client_name: client_name(client_id),
            device_name: device_name.map(str::to_owned),
            label: session_label(client_id, device_name),
        }
    }

    fn of(row: &OAuthRequestRow) -> Consent {
        Consent::new(&row.client_id, row.device_name.as_deref())
    }
}

// ---------------------------------------------------------------------------
// The authorization code flow.

/// An authorization request that may be shown to the person.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// As sent: the token request must send it again, identical.
    pub redirect_uri: String,
    pub redirect: Url,
    pub code_challenge: String,
    pub state: Option<String>,
    pub device_name: Option<String>,
}

impl AuthorizeRequest {
    /// This request as a path of this site, to come back to after signing
    /// in (every value encoded, so that `pages::local_path` keeps it).
    pub fn path(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_challenge", &self.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(state) = &self.state {
            query.append_pair("state", state);
        }
        if let Some(device) = &self.device_name {
            query.append_pair("device_name", device);
        }
        format!("/oauth/authorize?{}", query.finish())
    }

    pub fn consent(&self) -> Consent {
        Consent::new(&self.client_id, self.device_name.as_deref())
    }
}

/// Why an authorization request is refused (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub enum AuthorizeRefusal {
    /// The program cannot be told (its `client_id` or `redirect_uri` is
    /// missing or not acceptable): the person is, on a page, and nothing is
    /// redirected.
    Page(&'static str),
    /// The program is told at its redirect URI.
    Redirect(Url),
}

/// `redirect` with the response's parameters added to its query.
fn with_params(redirect: &Url, params: &[(&str, &str)]) -> Url {
    let mut url = redirect.clone();
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    url
}

/// `redirect` with an error response's parameters (RFC 6749 §4.1.2.1).
fn error_url(redirect: &Url, state: Option<&str>, error: &str, description: &str) -> Url {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    with_params(redirect, &params)
}

fn error_redirect(
    redirect: &Url,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> AuthorizeRefusal {
    AuthorizeRefusal::Redirect(error_url(redirect, state, error, description))
}

/// Checks the parameters of `GET /oauth/authorize`. Its client and
/// redirect URI come first: until both are known good, nothing is
/// redirected; after that, every other problem goes back to the program.
pub fn check_authorize(params: &Params) -> Result<AuthorizeRequest, AuthorizeRefusal> {
    let client_id = match params.get("client_id") {
        Ok(Some(id)) if valid_client_id(id) => id.to_owned(),
        _ => return Err(AuthorizeRefusal::Page(
            "The program did not say which program it is (its client_id is missing or not valid).",
        )),
    };
    let (redirect_uri, redirect) = match params.get("redirect_uri") {
        Ok(Some(raw)) => match loopback_redirect(raw) {
            Some(url) => (raw.to_owned(), url),
            None => {
                return Err(AuthorizeRefusal::Page(
                    "The program asked to be answered somewhere other than on this computer. Programs may only receive a sign-in at a loopback address (http://127.0.0.1, http://[::1] or http://localhost), so this request was stopped.",
                ))
            }
        },
        _ => {
            return Err(AuthorizeRefusal::Page(
                "The program did not say where to send the answer (its redirect_uri is missing).",
            ))
        }
    };
    let state = match params.get("state") {
        Ok(state) if state.is_none_or(|s| s.len() <= MAX_STATE) => state.map(str::to_owned),
        _ => {
            return Err(error_redirect(
                &redirect,
                None,
                "invalid_request",
                "state must be sent once, at most 1024 bytes",
            ))
        }
    };
    let refuse = |error: &str, description: &str| {
        error_redirect(&redirect, state.as_deref(), error, description)
    };
    let read = |name: &str| {
        params
            .get(name)
            .map_err(|_| refuse("invalid_request", "a parameter was sent more than once"))
    };
    match read("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => return Err(refuse("invalid_request", "response_type is missing")),
    }
    if read("code_challenge_method")? != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "PKCE is required, with code_challenge_method=S256",
        ));
    }
    let code_challenge = match read("code_challenge")? {
        Some(c) if valid_challenge(c) => c.to_owned(),
        _ => {
            return Err(refuse(
                "invalid_request",
                "code_challenge must be the base64url SHA-256 of the code verifier",
            ))
        }
    };
    let device_name = device_name(read("device_name")?)
        .map_err(|_| refuse("invalid_request", "device_name is not valid"))?;
    Ok(AuthorizeRequest {
        client_id,
        redirect_uri,
        redirect,
        code_challenge,
        state,
        device_name,
    })
}

/// Records the request for the signed-in account about to see the consent
/// page; returns its id, which the page's form sends back.
pub async fn begin_authorization(
    app: &App,
    actor: &Actor,
    req: &AuthorizeRequest,
) -> Result<String> {
    let now = app.clock.now();
    let id = store::new_id();
    let mut tx = app.store.begin().await?;
    store::oauth::insert_code_request(
        &mut tx,
        &NewCodeRequest {
            id: &id,
            client_id: &req.client_id,
            device_name: req.device_name.as_deref(),
            redirect_uri: &req.redirect_uri,
            code_challenge: &req.code_challenge,
            state: req.state.as_deref(),
            user_id: &actor.user_id,
            expires_at: now + REQUEST_LIFETIME,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn request_expired() -> Error {
    Error::bad_request(
        "request_expired",
        "this sign-in request expired: start again from the program",
    )
}

fn already_decided() -> Error {
    Error::conflict(
        "already_decided",
        None,
        "this sign-in request was already approved or denied",
    )
}

/// Approves or denies a code request shown to the actor. Where to send the
/// browser: back to the program, with the code (approved) or
/// `access_denied`.
pub async fn decide_authorization(
    app: &App,
    actor: &Actor,
    request_id: &str,
    approve: bool,
) -> Result<Url> {
    let not_found = || Error::NotFound {
        what: "sign-in request",
    };
    let row = {
        let mut c = app.store.conn().await?;
        store::oauth::by_id(&mut c, request_id)
            .await?
            .filter(|r| {
                r.kind == store::oauth::KIND_CODE && r.user_id.as_deref() == Some(&actor.user_id)
            })
            .ok_or_else(not_found)?
    };
    let now = app.clock.now();
    if row.expires_at <= now {
        return Err(request_expired());
    }
    if row.status() != Status::Pending {
        return Err(already_decided());
    }
    let redirect = row
        .redirect_uri
        .as_deref()
        .and_then(loopback_redirect)
        .ok_or_else(not_found)?;
    let code = approve.then(|| tokens::random_token(32));
    let mut tx = app.store.begin().await?;
    let code_hash = code.as_deref().map(tokens::hash);
    if !store::oauth::decide(
        &mut tx,
        &row.id,
        &actor.user_id,
        approve,
        code_hash.as_deref(),
        now,
    )
    .await?
    {
        return Err(already_decided());
    }
    tx.commit().await?;
    let state = row.state.as_deref();
    Ok(match &code {
        Some(code) => {
            let mut params = vec![("code", code.as_str())];
            params.extend(state.map(|s| ("state", s)));
            with_params(&redirect, &params)
        }
        None => error_url(
            &redirect,
            state,
            "access_denied",
            "the person denied the sign-in",
        ),
    })
}

// ---------------------------------------------------------------------------
// The device flow.

/// `POST /oauth/device`: a device code for the program to poll with, and a
/// user code for the person to enter on `/device`.
pub async fn authorize_device(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<api::DeviceAuthorization, OAuthError> {
    limits::limit(app, &[Check::new(limits::DEVICE_START_PER_IP, &client.ip)]).await?;
    let client_id = params.required("client_id")?;
    if !valid_client_id(client_id) {
        return Err(refused(
            "invalid_request",
            "client_id must be 1 to 64 letters, digits, dots, dashes or underscores",
        ));
    }
    let device_name = device_name(params.get("device_name")?)?;
    // `scope` is accepted and ignored: a session may do what its account may.
    params.get("scope")?;
    let now = app.clock.now();
    let device_code = tokens::random_token(32);
    // A user code held by another request is drawn again: with 20^8 codes
    // and requests living 5 minutes, the first draw nearly always does.
    for _ in 0..5 {
        let user_code = new_user_code();
        let mut tx = app.store.begin().await?;
        let inserted = store::oauth::insert_device_request(
            &mut tx,
            &NewDeviceRequest {
                id: &store::new_id(),
                client_id,
                device_name: device_name.as_deref(),
                device_code_hash: &tokens::hash(&device_code),
                user_code_hash: &tokens::hash(&user_code),
                interval_secs: POLL_INTERVAL_SECS,
                expires_at: now + REQUEST_LIFETIME,
            },
            now,
        )
        .await;
        match inserted {
            Ok(()) => {
                tx.commit().await?;
                let shown = format_user_code(&user_code);
                return Ok(api::DeviceAuthorization {
                    device_code,
                    verification_uri: app.settings.link("/device"),
                    verification_uri_complete: app
                        .settings
                        .link(&format!("/device?user_code={shown}")),
                    user_code: shown,
                    expires_in: (REQUEST_LIFETIME / SECOND) as u64,
                    interval: POLL_INTERVAL_SECS as u64,
                });
            }
            Err(e) if store::is_unique_violation(&e, "oauth_requests_user_code_hash") => {
                tx.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free user code in five draws")).into())
}

/// The pending device request a user code names, for the actor about to
/// decide it. Counts against the code-guessing limits (per address and
/// per account); only a session may approve a device (not an API key).
async fn pending_device(
    app: &App,
    actor: &Actor,
    client: &Client,
    user_code: &str,
) -> Result<OAuthRequestRow> {
    if actor.session_id.is_none() {
        return Err(Error::session_required("a device is approved"));
    }
    limits::limit(
        app,
        &[
            Check::new(limits::USER_CODE_PER_IP, &client.ip),
            Check::new(limits::USER_CODE_PER_ACCOUNT, &actor.user_id),
        ],
    )
    .await?;
    let not_found = || Error::NotFound { what: "code" };
    let code = normalize_user_code(user_code).ok_or_else(not_found)?;
    let row = {
        let mut c = app.store.conn().await?;
        store::oauth::by_user_code_hash(&mut c, &tokens::hash(&code))
            .await?
            .filter(|r| r.kind == store::oauth::KIND_DEVICE)
            .ok_or_else(not_found)?
    };
    if row.expires_at <= app.clock.now() {
        return Err(request_expired());
    }
    if row.status() != Status::Pending {
        return Err(already_decided());
    }
    Ok(row)
}

/// What a user code asks the actor to approve.
pub async fn find_device(
    app: &App,
    actor: &Actor,
    client: &Client,
    user_code: &str,
) -> Result<Consent> {
    Ok(Consent::of(
        &pending_device(app, actor, client, user_code).await?,
    ))
}

/// Approves or denies the device request a user code names, for the
/// actor's account: the program's next poll gets its session, or
/// `access_denied`.
pub async fn decide_device(
    app: &App,
    actor: &Actor,
    client: &Client,
    user_code: &str,
    approve: bool,
) -> Result<Consent> {
    let row = pending_device(app, actor, client, user_code).await?;
    let mut tx = app.store.begin().await?;
    if !store::oauth::decide(
        &mut tx,
        &row.id,
        &actor.user_id,
        approve,
        None,
        app.clock.now(),
    )
    .await?
    {
        return Err(already_decided());
    }
    tx.commit().await?;
    Ok(Consent::of(&row))
}

/// `POST /api/v1/device-authorizations/approve`.
pub async fn approve_device(
    app: &App,
    actor: &Actor,
    client: &Client,
    user_code: &str,
) -> Result<api::DeviceApproval> {
    let consent = decide_device(app, actor, client, user_code, true).await?;
    Ok(api::DeviceApproval {
        client_id: consent.client_id,
        device_name: consent.device_name,
    })
}

// ---------------------------------------------------------------------------
// The token endpoint.

/// `POST /oauth/token`: an authorization code or a device code exchanged
/// for a session.
pub async fn token(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<api::TokenResponse, OAuthError> {
    match params.required("grant_type")? {
        "authorization_code" => exchange_code(app, client, params).await,
        DEVICE_CODE_GRANT => exchange_device_code(app, client, params).await,
        _ => Err(refused(
            "unsupported_grant_type",
            format!("grant_type must be authorization_code or {DEVICE_CODE_GRANT}"),
        )),
    }
}

async fn exchange_code(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<api::TokenResponse, OAuthError> {
    let code = params.required("code")?;
    let redirect_uri = params.required("redirect_uri")?;
    let client_id = params.required("client_id")?;
    let verifier = params.required("code_verifier")?;
    if !tokens::well_formed(code, "") {
        return Err(invalid_grant("the code is not valid"));
    }
    let row = {
        let mut c = app.store.conn().await?;
        store::oauth::by_code_hash(&mut c, &tokens::hash(code)).await?
    };
    let Some(row) = row.filter(|r| r.kind == store::oauth::KIND_CODE) else {
        return Err(invalid_grant("the code is not valid"));
    };
    match row.status() {
        Status::Approved => {}
        Status::Used => {
            end_replayed(app, &row).await?;
            return Err(invalid_grant(
                "the code was already used; the session it gave was signed out",
            ));
        }
        Status::Pending | Status::Denied => return Err(invalid_grant("the code is not valid")),
    }
    if row.expires_at <= app.clock.now() {
        return Err(invalid_grant("the code expired"));
    }
    // Checked before the code is spent: a wrong attempt (someone who saw
    // the code but holds no verifier) does not spend it for the program.
    if row.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client_id"));
    }
    if row.redirect_uri.as_deref() != Some(redirect_uri) {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    let challenge = row.code_challenge.as_deref().unwrap_or_default();
    if !verifier_matches(verifier, challenge) {
        return Err(invalid_grant(
            "the code_verifier does not match the code_challenge",
        ));
    }
    issue(app, client, &row, "authorization_code").await
}

/// A spent authorization code came again: whoever sends it may have stolen
/// it, so the session it gave ends (RFC 6749 §4.1.2).
async fn end_replayed(app: &App, row: &OAuthRequestRow) -> Result<()> {
    let (Some(user_id), Some(session_id)) = (&row.user_id, &row.session_id) else {
        return Ok(());
    };
    let mut tx = app.store.begin().await?;
    let ended = store::sessions::delete_own(&mut tx, user_id, session_id).await?;
    tx.commit().await?;
    if ended {
        tracing::warn!(request = %row.id, user = %user_id, "an authorization code came a second time: the session it gave was signed out");
    }
    Ok(())
}

async fn exchange_device_code(
    app: &App,
    client: &Client,
    params: &Params,
) -> Result<api::TokenResponse, OAuthError> {
    let device_code = params.required("device_code")?;
    let client_id = params.required("client_id")?;
    if !tokens::well_formed(device_code, "") {
        return Err(invalid_grant("the device code is not valid"));
    }
    let row = {
        let mut c = app.store.conn().await?;
        store::oauth::by_device_code_hash(&mut c, &tokens::hash(device_code)).await?
    };
    let Some(row) = row.filter(|r| r.kind == store::oauth::KIND_DEVICE) else {
        return Err(invalid_grant("the device code is not valid"));
    };
    if row.client_id != client_id {
        return Err(invalid_grant(
            "the device code was issued to another client_id",
        ));
    }
    let now = app.clock.now();
    match row.status() {
        Status::Used => Err(invalid_grant("the device code was already used")),
        Status::Denied => Err(refused("access_denied", "the person denied the sign-in")),
        _ if row.expires_at <= now => Err(refused(
            "expired_token",
            "the device code expired: start again",
        )),
        Status::Approved => issue(app, client, &row, "device_code").await,
        Status::Pending => {
            // Polled again before the interval passed: the interval grows
            // for this request from now on (RFC 8628 §3.5).
            let too_soon = row
                .last_polled_at
                .is_some_and(|last| now - last < row.interval_secs * SECOND);
            let interval = if too_soon {
                row.interval_secs + SLOW_DOWN_SECS
            } else {
                row.interval_secs
            };
            // Bookkeeping: losing it in a power failure harms no one.
            let mut tx = app.store.begin_relaxed().await?;
            store::oauth::polled(&mut tx, &row.id, now, interval).await?;
            tx.commit().await?;
            Err(if too_soon {
                refused(
                    "slow_down",
                    format!("polled too often: wait {interval} seconds between polls"),
                )
            } else {
                refused(
                    "authorization_pending",
                    "the person has not approved the sign-in yet",
                )
            })
        }
    }
}

/// Spends an approved request on a new session for its account, kept
/// signed in and named after the program.
async fn issue(
    app: &App,
    client: &Client,
    row: &OAuthRequestRow,
    grant: &'static str,
) -> Result<api::TokenResponse, OAuthError> {
    let Some(user_id) = &row.user_id else {
        return Err(invalid_grant("the request was not approved"));
    };
    let label = session_label(&row.client_id, row.device_name.as_deref());
    let mut tx = app.store.begin().await?;
    let user = accounts::load_user(&mut tx, user_id).await?;
    let started = sessions::start(
        app,
        &mut tx,
        &user,
        &NewSession {
            keep_signed_in: true,
            client,
            label: Some(&label),
        },
    )
    .await?;
    let now = app.clock.now();
    if !store::oauth::claim(&mut tx, &row.id, &started.session.id, now).await? {
        // Another exchange of the same code came first.
        tx.rollback().await?;
        return Err(invalid_grant("the code was already used"));
    }
    tx.commit().await?;
    metrics::counter!("postroom_oauth_tokens_total", "grant" => grant).increment(1);
    Ok(api::TokenResponse {
        access_token: started.token,
        token_type: "Bearer".to_owned(),
        expires_in: ((started.session.expires_at - now).max(0) / SECOND) as u64,
        scope: None,
    })
}

/// The authorization server's metadata (RFC 8414), with this server's
/// public URLs.
pub fn metadata(app: &App) -> api::AuthorizationServerMetadata {
    let link = |path: &str| app.settings.link(path);
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    api::AuthorizationServerMetadata {
        issuer: link(""),
        authorization_endpoint: link("/oauth/authorize"),
        token_endpoint: link("/oauth/token"),
        device_authorization_endpoint: link("/oauth/device"),
        response_types_supported: strings(&["code"]),
        grant_types_supported: strings(&["authorization_code", DEVICE_CODE_GRANT]),
        code_challenge_methods_supported: strings(&["S256"]),
        token_endpoint_auth_methods_supported: strings(&["none"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(query: &str) -> Params {
        Params::parse(query.as_bytes())
    }

    #[test]
    fn only_loopback_redirects_are_accepted() {
        for good in [
            "http://127.0.0.1:53123/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:8000/cb?x=1",
            "http://localhost:4000/",
            "http://LOCALHOST:4000/",
        ] {
            assert!(loopback_redirect(good).is_some(), "{good}");
        }
        for bad in [
            "https://127.0.0.1:53123/callback",
            "http://127.0.0.2:53123/callback",
            "http://127.0.0.1.evil.example/callback",
            "http://localhost.evil.example/",
            "http://evil.example/?http://127.0.0.1/",
            "http://127.0.0.1:80@evil.example/",
            "http://user:pw@127.0.0.1:53123/",
            "http://127.0.0.1:53123/cb#fragment",
            "http://0.0.0.0:53123/",
            "http://[::2]:53123/",
            "com.example.app:/callback",
            "/callback",
            "",
        ] {
            assert!(loopback_redirect(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn s256_follows_rfc_7636() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256(verifier), challenge);
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        assert!(!verifier_matches("short", &s256("short")));
        assert!(valid_challenge(challenge));
    }

    #[test]
    fn user_codes_are_read_loosely_and_shown_with_a_dash() {
        for _ in 0..100 {
            let code = new_user_code();
            assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
            let shown = format_user_code(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(
                normalize_user_code(&shown.to_lowercase()).as_deref(),
                Some(code.as_str())
            );
        }
        assert_eq!(
            normalize_user_code(" bcdf ghjk ").as_deref(),
            Some("BCDFGHJK")
        );
        for bad in ["BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", ""] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn programs_are_named_after_their_client_and_device() {
        assert_eq!(
            session_label(CLI_CLIENT_ID, Some("ada-laptop")),
            "postroom CLI on ada-laptop"
        );
        assert_eq!(session_label("my-app", None), "my-app");
        assert!(valid_client_id("postroom-cli"));
        assert!(valid_client_id("com.example.App_2"));
        for bad in ["", "has space", "<script>", &"x".repeat(65)] {
            assert!(!valid_client_id(bad), "{bad}");
        }
        assert_eq!(device_name(Some("  ")).unwrap(), None);
        assert_eq!(
            device_name(Some(&"a".repeat(100))).unwrap().unwrap().len(),
            MAX_DEVICE_NAME
        );
        assert!(device_name(Some("ada\u{202E}nimda")).is_err());
        assert!(device_name(Some("two\nlines")).is_err());
    }

    const GOOD: &str = "response_type=code&client_id=postroom-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A4000%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s1&device_name=ada-laptop";

    fn redirected(query: &str) -> Url {
        match check_authorize(&params(query)) {
            Err(AuthorizeRefusal::Redirect(url)) => url,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn authorize_requests_are_checked_client_and_redirect_first() {
        let req = check_authorize(&params(GOOD)).unwrap();
        assert_eq!(req.redirect_uri, "http://127.0.0.1:4000/cb");
        assert_eq!(req.device_name.as_deref(), Some("ada-laptop"));
        // The path to come back to is a local path that reads the same.
        let path = req.path();
        assert_eq!(crate::http::web::pages::local_path(Some(&path)), path);
        let again = check_authorize(&params(path.split_once('?').unwrap().1)).unwrap();
        assert_eq!(again.path(), path);

        for page in [
            GOOD.replace("client_id=postroom-cli", "client_id=bad%20id"),
            GOOD.replace(
                "redirect_uri=http%3A%2F%2F127.0.0.1",
                "redirect_uri=http%3A%2F%2Fevil.example",
            ),
            GOOD.replace(
                "&redirect_uri=",
                "&redirect_uri=http://127.0.0.1:1/&redirect_uri=",
            ),
            GOOD.replace("client_id=postroom-cli&", ""),
        ] {
            assert!(
                matches!(
                    check_authorize(&params(&page)),
                    Err(AuthorizeRefusal::Page(_))
                ),
                "{page}"
            );
        }
        for (query, error) in [
            (
                GOOD.replace("&code_challenge_method=S256", ""),
                "invalid_request",
            ),
            (GOOD.replace("S256", "plain"), "invalid_request"),
            (
                GOOD.replace("code_challenge=E9", "code_challenge=X"),
                "invalid_request",
            ),
            (
                GOOD.replace("response_type=code", "response_type=token"),
                "unsupported_response_type",
            ),
            (
                GOOD.replace("device_name=ada-laptop", "device_name=a%0Ab"),
                "invalid_request",
            ),
        ] {
            let url = redirected(&query);
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            assert!(
                pairs.contains(&("error".into(), error.into())),
                "{query}: {url}"
            );
            assert!(
                pairs.contains(&("state".into(), "s1".into())),
                "{query}: {url}"
            );
            assert!(
                url.as_str().starts_with("http://127.0.0.1:4000/cb?"),
                "{url}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_query_is_checked_without_panicking(query in ".{0,300}") {
            let _ = check_authorize(&params(&query));
        }

        #[test]
        fn user_codes_never_panic(typed in ".{0,20}") {
            let _ = normalize_user_code(&typed);
        }
    }
}
