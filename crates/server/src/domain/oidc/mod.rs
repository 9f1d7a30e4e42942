//! Signing in through an OpenID provider (A2), and a team's own provider
//! (A7, see `teams::sso`): the authorization code flow with PKCE (S256), a
//! `state` bound to the browser, and a `nonce` in the ID token.
//!
//! A sign-in under way is a row of `oidc_requests`, keyed by the SHA-256 of
//! a random value the browser holds twice: as the `state` sent to the
//! provider and in a cookie. The callback takes the row once (a replay finds
//! nothing), refuses it after [`REQUEST_TTL`], and refuses a `state` that is
//! not this browser's cookie (a sign-in started elsewhere and finished here).
//! The PKCE verifier and the nonce are derived from that value with a server
//! key ([`pkce_verifier`], [`nonce`]), so the database holds none of them.
//!
//! What a proven identity leads to:
//! - one linked to an account signs it in;
//! - a new person chooses a username and accepts the terms
//!   ([`create_account`]); the account has no password (one can be set by
//!   "Trouble signing in"), and its address is confirmed when the provider
//!   is trusted for it and says `email_verified`, else by mail;
//! - an address that an account already has is never linked silently: the
//!   person proves that account first, by its password or through a
//!   provider already linked to it ([`prove_with_password`],
//!   [`prove_with_provider`]), and only then is the identity linked.
//!
//! [`ways_in`] counts how an account can sign in; unlinking the last way is
//! refused.

pub mod client;

use hmac::{Hmac, KeyInit, Mac};
use postroom_core::{Email, Username};
use secrecy::SecretString;
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::actor::{Actor, Client};
use super::limits::{self, Check};
use super::tokens;
use crate::clock::{rfc3339, Millis, MINUTE};
use crate::error::{Error, FieldErrors, Result};
use crate::state::App;
use crate::store::{
    self,
    oidc::{Pending, RequestRow},
    users::UserRow,
    Conn,
};

/// How long a sign-in through a provider may take, from its start to its
/// last page.
pub const REQUEST_TTL: Millis = 10 * MINUTE;

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// A signed-in person links another provider.
    Link,
    /// A team admin tries the team's provider.
    Test,
    /// Proven, waiting for a page: a username to choose, or an account to prove.
    Continue,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
            Purpose::Test => "test",
            Purpose::Continue => "continue",
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        [
            Purpose::SignIn,
            Purpose::Link,
            Purpose::Test,
            Purpose::Continue,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Whose addresses a provider may vouch for.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Any address it says it verified (`trusted_email = true`).
    All,
    None,
    /// Addresses at these domains (a team's provider: its verified domains).
    Domains(Vec<String>),
}

/// A team's provider, as a flow needs to know it.
#[derive(Debug, Clone)]
pub struct TeamProvider {
    pub team_id: String,
    pub slug: String,
    /// The setup's `updated_at`: a test counts for the setup it began with.
    pub setup_at: Millis,
}

/// A provider ready for a flow: a configured one, or a team's.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Stored with identities: the configured id, or `team:<team id>`.
    pub key: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub trust: Trust,
    /// Where its sign-in starts (`/auth/oidc/{id}`, `/auth/sso/{slug}`);
    /// the callback is this plus `/callback`.
    pub path: String,
    pub team: Option<TeamProvider>,
}

impl Provider {
    fn endpoint(&self, app: &App) -> client::Endpoint<'_> {
        client::Endpoint {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            redirect_uri: app.settings.link(&format!("{}/callback", self.path)),
        }
    }

    /// Whether the address in these claims counts as confirmed.
    fn vouches_for(&self, claims: &client::Claims) -> bool {
        let Some(email) = claims.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
            return false;
        };
        claims.email_verified
            && match &self.trust {
                Trust::All => true,
                Trust::None => false,
                Trust::Domains(domains) => domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(email.domain())),
            }
    }
}

fn provider_not_found() -> Error {
    Error::NotFound {
        what: "sign-in provider",
    }
}

/// The configured provider with this id.
pub fn configured(app: &App, id: &str) -> Result<Provider> {
    let p = app
        .settings
        .oidc_provider(id)
        .ok_or_else(provider_not_found)?;
    Ok(Provider {
        key: p.id.clone(),
        name: p.name.clone(),
        issuer: p.issuer.clone(),
        client_id: p.client_id.clone(),
        client_secret: p.client_secret.clone(),
        trust: if p.trusted_email {
            Trust::All
        } else {
            Trust::None
        },
        path: format!("/auth/oidc/{}", p.id),
        team: None,
    })
}

/// The name to show for a stored provider key, when it is still configured
/// (a team's provider is named by the caller).
pub fn provider_name(app: &App, key: &str) -> Option<String> {
    app.settings.oidc_provider(key).map(|p| p.name.clone())
}

type HmacSha256 = Hmac<Sha256>;

fn derive(key: &[u8; 32], label: &str, state: &str) -> String {
    use base64::Engine;
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(label.as_bytes());
    mac.update(&[0]);
    mac.update(state.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The PKCE verifier of the request whose state is `state`: 43 characters
/// of the unreserved set (RFC 7636), secret to whoever lacks the key.
pub fn pkce_verifier(key: &[u8; 32], state: &str) -> String {
    derive(key, "oidc-pkce-verifier", state)
}

/// The nonce of the request whose state is `state`.
pub fn nonce(key: &[u8; 32], state: &str) -> String {
    derive(key, "oidc-nonce", state)
}

/// Whether the state sent back by the provider is the one this browser's
/// cookie holds (compared in constant time).
pub fn state_matches(state: Option<&str>, cookie: Option<&str>) -> bool {
    match (state, cookie) {
        (Some(s), Some(c)) if !s.is_empty() => bool::from(s.as_bytes().ct_eq(c.as_bytes())),
        _ => false,
    }
}

fn bad_state() -> Error {
    Error::bad_request(
        "sign_in_state_invalid",
        "this sign-in could not be matched to one started in this browser, or it was already used; start again",
    )
}

fn expired() -> Error {
    Error::bad_request(
        "sign_in_expired",
        "this sign-in took longer than 10 minutes; start again",
    )
}

/// A sign-in begun: the value the browser keeps in a cookie, and where to
/// send it.
pub struct Begun {
    pub token: String,
    pub url: String,
}

/// What a new request carries.
#[derive(Default)]
pub struct Begin<'a> {
    pub user_id: Option<&'a str>,
    pub next: Option<&'a str>,
    pub keep_signed_in: bool,
    pub pending: Option<&'a Pending>,
    pub login_hint: Option<&'a str>,
}

/// Starts a flow with `provider`: the provider's document read (or an
/// `Upstream` error), a request stored, and the authorization URL.
pub async fn begin(
    app: &App,
    provider: &Provider,
    purpose: Purpose,
    b: Begin<'_>,
) -> Result<Begun> {
    let token = tokens::random_token(32);
    let url = app
        .oidc
        .authorize_url(
            &provider.endpoint(app),
            &token,
            &nonce(&app.oidc_key, &token),
            &pkce_verifier(&app.oidc_key, &token),
            b.login_hint,
        )
        .await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::oidc::insert_request(
        &mut tx,
        &store::oidc::NewRequest {
            token_hash: &tokens::hash(&token),
            provider: &provider.key,
            purpose: purpose.as_str(),
            user_id: b.user_id,
            next: b.next,
            keep_signed_in: b.keep_signed_in,
            pending: b.pending,
            expires_at: now + REQUEST_TTL,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Begun { token, url })
}

/// Starts linking `provider` to the signed-in account.
pub async fn begin_link(app: &App, actor: &Actor, provider: &Provider) -> Result<Begun> {
    let mut c = app.store.conn().await?;
    let linked = store::oidc::identities(&mut c, &actor.user_id).await?;
    drop(c);
    if linked.iter().any(|i| i.provider == provider.key) {
        return Err(already_linked(&provider.name));
    }
    begin(
        app,
        provider,
        Purpose::Link,
        Begin {
            user_id: Some(&actor.user_id),
            ..Default::default()
        },
    )
    .await
}

fn already_linked(name: &str) -> Error {
    Error::conflict(
        "provider_already_linked",
        None,
        format!("your account is already linked to {name}"),
    )
}

/// What the provider sent back to the callback.
#[derive(Default)]
pub struct Returned<'a> {
    pub state: Option<&'a str>,
    /// The browser's cookie.
    pub cookie: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Where a proven identity leads.
pub enum Outcome {
    /// Sign this account in (see `http::web::oidc::finish_sign_in`).
    SignIn {
        user: Box<UserRow>,
        keep_signed_in: bool,
        next: Option<String>,
    },
    /// Linked to the signed-in account.
    Linked { provider_name: String },
    /// A team's provider worked for its admin.
    Tested { slug: String },
    /// A page must ask more; the browser keeps this value in its cookie.
    Continue { token: String },
    /// A new account whose address must be confirmed by mail first.
    CheckEmail { email: String, next: Option<String> },
}

/// The callback: the request taken, the code exchanged, the ID token
/// verified, and what follows decided.
pub async fn callback(app: &App, provider: &Provider, r: Returned<'_>) -> Result<Outcome> {
    if let (Some(error), None) = (r.error, r.state) {
        // Some providers send a refusal without the state; it starts
        // nothing, so it is said as it is.
        return Err(provider_refused(provider, error));
    }
    if !state_matches(r.state, r.cookie) {
        return Err(bad_state());
    }
    let state = r.state.expect("matched");
    let now = app.clock.now();
    let request = {
        let mut tx = app.store.begin().await?;
        let row = store::oidc::take_request(&mut tx, &tokens::hash(state)).await?;
        tx.commit().await?;
        row.ok_or_else(bad_state)?
    };
    if request.provider != provider.key {
        return Err(bad_state());
    }
    if request.expires_at <= now {
        return Err(expired());
    }
    let purpose = Purpose::parse(&request.purpose).ok_or_else(bad_state)?;
    if let Some(error) = r.error {
        return Err(provider_refused(provider, error));
    }
    let code = r.code.filter(|c| !c.is_empty()).ok_or_else(bad_state)?;
    let claims = app
        .oidc
        .exchange(
            &provider.endpoint(app),
            code,
            &pkce_verifier(&app.oidc_key, state),
            &nonce(&app.oidc_key, state),
        )
        .await?;
    match purpose {
        Purpose::Test => {
            let team = provider.team.as_ref().ok_or_else(bad_state)?;
            let user_id = request.user_id.as_deref().ok_or_else(bad_state)?;
            super::teams::sso::record_test(app, user_id, team, &claims).await?;
            Ok(Outcome::Tested {
                slug: team.slug.clone(),
            })
        }
        Purpose::Link => {
            let user_id = request.user_id.as_deref().ok_or_else(bad_state)?;
            link(app, user_id, provider, &claims).await?;
            Ok(Outcome::Linked {
                provider_name: provider.name.clone(),
            })
        }
        Purpose::SignIn => signed_in(app, provider, &request, claims).await,
        Purpose::Continue => Err(bad_state()),
    }
}

/// The provider's own `error` (RFC 6749, 4.1.2.1) as an error of ours.
fn provider_refused(provider: &Provider, error: &str) -> Error {
    if error == "access_denied" {
        return Error::bad_request(
            "sign_in_cancelled",
            format!(
                "signing in with {} was cancelled; you can try again or sign in another way",
                provider.name
            ),
        );
    }
    // Only the code, cut and limited to its alphabet: it is shown on a page.
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    Error::bad_request(
        "provider_error",
        format!(
            "{} could not sign you in ({code}); try again, or sign in another way",
            provider.name
        ),
    )
}

fn identity_taken(name: &str) -> Error {
    Error::conflict(
        "identity_taken",
        None,
        format!("this {name} account is already linked to another Postroom account"),
    )
}

/// Links the identity in `claims` to the account `user_id`.
async fn link(
    app: &App,
    user_id: &str,
    provider: &Provider,
    claims: &client::Claims,
) -> Result<()> {
    let pending = Pending {
        provider: provider.key.clone(),
        subject: claims.subject.clone(),
        email: claims.email.clone(),
        email_verified: provider.vouches_for(claims),
        name: claims.name.clone(),
    };
    link_pending(app, user_id, &pending, &provider.name).await
}

async fn link_pending(app: &App, user_id: &str, p: &Pending, name: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    match store::oidc::identity(&mut tx, &p.provider, &p.subject).await? {
        Some(i) if i.user_id == user_id => return Ok(()),
        Some(_) => return Err(identity_taken(name)),
        None => {}
    }
    match store::oidc::insert_identity(
        &mut tx,
        user_id,
        &p.provider,
        &p.subject,
        p.email.as_deref(),
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(e) if store::is_unique_violation(&e, "oidc_identities_user_provider") => {
            return Err(already_linked(name))
        }
        Err(e) if store::is_unique_violation(&e, "oidc_identities_provider_subject") => {
            return Err(identity_taken(name))
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(())
}

/// A sign-in's identity: its account signs in, or a page asks more.
async fn signed_in(
    app: &App,
    provider: &Provider,
    request: &RequestRow,
    claims: client::Claims,
) -> Result<Outcome> {
    let now = app.clock.now();
    let mut c = app.store.conn().await?;
    let known = store::oidc::identity(&mut c, &provider.key, &claims.subject).await?;
    if let Some(identity) = known {
        let user = super::accounts::load_user(&mut c, &identity.user_id).await?;
        drop(c);
        if let Some(pending) = request.pending() {
            // A proof of the account `pending` is to be linked to.
            if request.user_id.as_deref() != Some(user.id.as_str()) {
                return Err(Error::forbidden(
                    "proof_failed",
                    format!(
                        "that {} account signs in to another Postroom account, not the one with this email",
                        provider.name
                    ),
                ));
            }
            let name = pending_name(app, &pending.provider).await;
            link_pending(app, &user.id, &pending, &name).await?;
        } else if provider.team.is_none() {
            sso_not_required(app, &user).await?;
        }
        let mut tx = app.store.begin().await?;
        store::oidc::touch_identity(&mut tx, &identity.id, now).await?;
        tx.commit().await?;
        return Ok(Outcome::SignIn {
            user: Box::new(user),
            keep_signed_in: request.keep_signed_in != 0,
            next: request.next.clone(),
        });
    }
    if request.pending().is_some() {
        return Err(Error::forbidden(
            "proof_failed",
            format!(
                "that {} account is not linked to the Postroom account with this email",
                provider.name
            ),
        ));
    }
    let email = claims
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or_else(|| {
            Error::bad_request(
                "email_missing",
                format!(
                    "{} did not share a valid email address with us, which a Postroom account needs",
                    provider.name
                ),
            )
        })?;
    let existing = store::users::by_email_key(&mut c, &email.key()).await?;
    drop(c);
    let pending = Pending {
        provider: provider.key.clone(),
        subject: claims.subject.clone(),
        email: Some(email.as_str().to_owned()),
        email_verified: provider.vouches_for(&claims),
        name: claims.name.clone(),
    };
    let token = tokens::random_token(32);
    let mut tx = app.store.begin().await?;
    store::oidc::insert_request(
        &mut tx,
        &store::oidc::NewRequest {
            token_hash: &tokens::hash(&token),
            provider: &provider.key,
            purpose: Purpose::Continue.as_str(),
            user_id: existing.as_ref().map(|u| u.id.as_str()),
            next: request.next.as_deref(),
            keep_signed_in: request.keep_signed_in != 0,
            pending: Some(&pending),
            expires_at: now + REQUEST_TTL,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::Continue { token })
}

/// Refuses a sign-in other than through the team's provider for someone
/// whose confirmed address is at a domain where a team enforces single
/// sign-on (A7): 403 `sso_required`, naming where to sign in.
pub async fn sso_not_required(app: &App, user: &UserRow) -> Result<()> {
    if user.email_verified_at.is_none() {
        return Ok(());
    }
    match super::teams::sso::enforced_for(app, &user.email).await? {
        Some(team) => Err(super::teams::sso::sso_required(app, &team)),
        None => Ok(()),
    }
}

async fn pending_name(app: &App, key: &str) -> String {
    if let Some(name) = provider_name(app, key) {
        return name;
    }
    super::teams::sso::provider_name_for_key(app, key)
        .await
        .unwrap_or_else(|| "single sign-on".to_owned())
}

/// What the page after a provider's sign-in shows.
#[derive(Debug, Serialize)]
pub struct Continuation {
    pub provider_name: String,
    pub email: String,
    pub email_verified: bool,
    /// A username to start from (the address's local part).
    pub suggested_username: String,
    /// Set when an account has this address: it must be proven first.
    pub existing: Option<ExistingAccount>,
}

#[derive(Debug, Serialize)]
pub struct ExistingAccount {
    pub has_password: bool,
    /// Configured providers linked to it, as (id, name): each can prove it.
    pub providers: Vec<(String, String)>,
}

async fn continue_request(c: &mut Conn, app: &App, token: Option<&str>) -> Result<RequestRow> {
    let token = token.filter(|t| !t.is_empty()).ok_or_else(bad_state)?;
    let row = store::oidc::request(c, &tokens::hash(token))
        .await?
        .filter(|r| r.purpose == Purpose::Continue.as_str())
        .ok_or_else(bad_state)?;
    if row.expires_at <= app.clock.now() {
        return Err(expired());
    }
    Ok(row)
}

/// The continue page's question, for the browser holding `token`.
pub async fn continuation(app: &App, token: Option<&str>) -> Result<Continuation> {
    let mut c = app.store.conn().await?;
    let row = continue_request(&mut c, app, token).await?;
    let pending = row.pending().ok_or_else(bad_state)?;
    let email = pending.email.clone().unwrap_or_default();
    let existing = match row.user_id.as_deref() {
        Some(id) => {
            let user = super::accounts::load_user(&mut c, id).await?;
            let providers = store::oidc::identities(&mut c, id)
                .await?
                .into_iter()
                .filter_map(|i| provider_name(app, &i.provider).map(|n| (i.provider, n)))
                .collect();
            Some(ExistingAccount {
                has_password: super::passwords::has_password(&user.password_hash),
                providers,
            })
        }
        None => None,
    };
    Ok(Continuation {
        provider_name: pending_name(app, &pending.provider).await,
        suggested_username: suggest_username(&email),
        email,
        email_verified: pending.email_verified,
        existing,
    })
}

fn suggest_username(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let s: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(32)
        .collect();
    match Username::parse(&s) {
        Ok(u) => u.as_str().to_owned(),
        Err(_) => String::new(),
    }
}

/// Takes the continue request for a final step.
async fn take_continue(app: &App, token: Option<&str>) -> Result<RequestRow> {
    let token = token.filter(|t| !t.is_empty()).ok_or_else(bad_state)?;
    let mut tx = app.store.begin().await?;
    let row = store::oidc::take_request(&mut tx, &tokens::hash(token))
        .await?
        .filter(|r| r.purpose == Purpose::Continue.as_str())
        .ok_or_else(bad_state)?;
    tx.commit().await?;
    if row.expires_at <= app.clock.now() {
        return Err(expired());
    }
    Ok(row)
}

pub struct NewAccount<'a> {
    pub username: &'a str,
    pub accept_terms: bool,
}

/// Creates the account of a person proven by a provider, with no password,
/// and links the identity. Its address is confirmed when the provider
/// vouched for it; otherwise the confirmation mail goes out and the person
/// is asked to confirm first ([`Outcome::CheckEmail`]).
pub async fn create_account(
    app: &App,
    token: Option<&str>,
    req: &NewAccount<'_>,
    client: &Client,
) -> Result<Outcome> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(req.username));
    if app.settings.terms_url.is_some() && !req.accept_terms {
        errors.add("accept_terms", "you must accept the terms of service");
    }
    errors.into_result()?;
    let username = username.expect("checked");
    limits::limit(app, &[Check::new(limits::SIGN_UP_PER_IP, &client.ip)]).await?;
    {
        // Checked before the request is spent, so that a taken username
        // can be chosen again on the same page.
        let mut c = app.store.conn().await?;
        continue_request(&mut c, app, token).await?;
        if store::users::by_username_key(&mut c, &username.key())
            .await?
            .is_some()
        {
            return Err(super::accounts::username_taken());
        }
    }
    let row = take_continue(app, token).await?;
    if row.user_id.is_some() {
        // An account has this address: it is proven, never created again.
        return Err(bad_state());
    }
    let pending = row.pending().ok_or_else(bad_state)?;
    let email = Email::parse(pending.email.as_deref().unwrap_or_default())
        .map_err(|e| Error::bad_request("email_missing", e.0))?;
    let user = super::accounts::create_without_password(
        app,
        &email,
        &username,
        pending.email_verified,
        row.next.as_deref(),
        &super::accounts::LinkedIdentity {
            provider: &pending.provider,
            subject: &pending.subject,
            email: pending.email.as_deref(),
        },
    )
    .await?;
    if user.email_verified_at.is_none() {
        return Ok(Outcome::CheckEmail {
            email: user.email,
            next: row.next,
        });
    }
    Ok(Outcome::SignIn {
        user: Box::new(user),
        keep_signed_in: row.keep_signed_in != 0,
        next: row.next,
    })
}

/// Proves the account with the pending identity's address by its password,
/// then links the identity and signs the account in.
pub async fn prove_with_password(
    app: &App,
    token: Option<&str>,
    password: &str,
    client: &Client,
) -> Result<Outcome> {
    let user_id = {
        let mut c = app.store.conn().await?;
        let row = continue_request(&mut c, app, token).await?;
        row.user_id.ok_or_else(bad_state)?
    };
    limits::guard(
        app,
        &[
            Check::new(limits::SIGN_IN_PER_IP, &client.ip),
            Check::new(limits::SIGN_IN_PER_ACCOUNT, &user_id),
        ],
        None,
    )
    .await?;
    let user = super::accounts::load_user(&mut *app.store.conn().await?, &user_id).await?;
    let locked = user.locked_until.is_some_and(|t| t > app.clock.now());
    let ok = app
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?;
    if !ok || locked {
        return Err(Error::field(
            "password",
            "invalid_credentials",
            "wrong password",
        ));
    }
    let row = take_continue(app, token).await?;
    if row.user_id.as_deref() != Some(user.id.as_str()) {
        return Err(bad_state());
    }
    let pending = row.pending().ok_or_else(bad_state)?;
    let name = pending_name(app, &pending.provider).await;
    link_pending(app, &user.id, &pending, &name).await?;
    Ok(Outcome::SignIn {
        user: Box::new(user),
        keep_signed_in: row.keep_signed_in != 0,
        next: row.next,
    })
}

/// Proves the account through a provider already linked to it: a new
/// sign-in with that provider that carries the pending identity along.
pub async fn prove_with_provider(
    app: &App,
    token: Option<&str>,
    provider: &Provider,
) -> Result<Begun> {
    let row = take_continue(app, token).await?;
    let user_id = row.user_id.clone().ok_or_else(bad_state)?;
    let pending = row.pending().ok_or_else(bad_state)?;
    begin(
        app,
        provider,
        Purpose::SignIn,
        Begin {
            user_id: Some(&user_id),
            next: row.next.as_deref(),
            keep_signed_in: row.keep_signed_in != 0,
            pending: Some(&pending),
            login_hint: None,
        },
    )
    .await
}

/// How many ways the account has to sign in: its password, each linked
/// identity, and each passkey. Unlinking is refused when it would leave
/// none.
pub async fn ways_in(c: &mut Conn, user: &UserRow) -> Result<i64> {
    let password = i64::from(super::passwords::has_password(&user.password_hash));
    let identities = store::oidc::count_identities(c, &user.id).await?;
    let passkeys = super::passkeys::count(c, &user.id).await?;
    Ok(password + identities + passkeys)
}

/// A linked identity, as settings list it.
#[derive(Debug, Serialize)]
pub struct IdentityView {
    pub id: String,
    pub provider: String,
    pub provider_name: String,
    pub email: Option<String>,
    pub linked_at: String,
}

/// The account's linked identities, and the configured providers it could
/// still link, as (id, name).
pub async fn identities(
    app: &App,
    actor: &Actor,
) -> Result<(Vec<IdentityView>, Vec<(String, String)>)> {
    let rows = store::oidc::identities(&mut *app.store.conn().await?, &actor.user_id).await?;
    let mut views = Vec::new();
    for i in &rows {
        views.push(IdentityView {
            id: i.id.clone(),
            provider_name: pending_name(app, &i.provider).await,
            provider: i.provider.clone(),
            email: i.email.clone(),
            linked_at: rfc3339(i.created_at),
        });
    }
    let others = app
        .settings
        .oidc
        .iter()
        .filter(|p| !rows.iter().any(|i| i.provider == p.id))
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    Ok((views, others))
}

/// Unlinks an identity, unless it is the account's last way to sign in.
pub async fn unlink(app: &App, actor: &Actor, identity_id: &str) -> Result<()> {
    if !actor.can_write {
        return Err(Error::forbidden(
            "read_only_key",
            "this API key can only read",
        ));
    }
    let mut tx = app.store.begin().await?;
    let user = super::accounts::load_user(&mut tx, &actor.user_id).await?;
    let owned = store::oidc::identities(&mut tx, &user.id)
        .await?
        .iter()
        .any(|i| i.id == identity_id);
    if !owned {
        return Err(Error::NotFound {
            what: "linked sign-in",
        });
    }
    if ways_in(&mut tx, &user).await? <= 1 {
        return Err(Error::conflict(
            "last_sign_in_method",
            None,
            "this is your only way to sign in: set a password (Trouble signing in) or link another provider first",
        ));
    }
    store::oidc::delete_identity(&mut tx, &user.id, identity_id).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_verifier_and_nonce_are_derived_from_the_state() {
        let key = [3u8; 32];
        let v = pkce_verifier(&key, "state-a");
        // RFC 7636: 43-128 characters of [A-Za-z0-9-._~].
        assert_eq!(v.len(), 43);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        assert_eq!(
            v,
            pkce_verifier(&key, "state-a"),
            "the same state, the same verifier"
        );
        assert_ne!(v, pkce_verifier(&key, "state-b"));
        assert_ne!(
            v,
            pkce_verifier(&[4u8; 32], "state-a"),
            "another key, another verifier"
        );
        let n = nonce(&key, "state-a");
        assert_ne!(n, v, "nonce and verifier differ");
        assert_ne!(n, nonce(&key, "state-b"));
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        use base64::Engine;
        use sha2::Digest;
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
            &openidconnect::PkceCodeVerifier::new(verifier.into()),
        );
        assert_eq!(challenge.method().as_str(), "S256");
        assert_eq!(
            challenge.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let ours = pkce_verifier(&[1u8; 32], "s");
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(ours.as_bytes()));
        let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
            &openidconnect::PkceCodeVerifier::new(ours),
        );
        assert_eq!(challenge.as_str(), expected);
    }

    #[test]
    fn the_state_must_be_this_browsers() {
        assert!(state_matches(Some("abc"), Some("abc")));
        assert!(!state_matches(Some("abc"), Some("abd")));
        assert!(!state_matches(Some("abc"), None));
        assert!(!state_matches(None, Some("abc")));
        assert!(!state_matches(Some(""), Some("")));
        assert!(!state_matches(Some("abc"), Some("abcd")));
    }

    #[test]
    fn purposes_read_back() {
        for p in [
            Purpose::SignIn,
            Purpose::Link,
            Purpose::Test,
            Purpose::Continue,
        ] {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(Purpose::parse("other"), None);
    }

    #[test]
    fn trust_decides_whether_an_address_is_confirmed() {
        let claims = |email: &str, verified: bool| client::Claims {
            subject: "s".into(),
            email: Some(email.into()),
            email_verified: verified,
            name: None,
        };
        let provider = |trust| Provider {
            key: "p".into(),
            name: "P".into(),
            issuer: "https://id.example.com".into(),
            client_id: "c".into(),
            client_secret: SecretString::from("s"),
            trust,
            path: "/auth/oidc/p".into(),
            team: None,
        };
        assert!(provider(Trust::All).vouches_for(&claims("a@x.com", true)));
        assert!(!provider(Trust::All).vouches_for(&claims("a@x.com", false)));
        assert!(!provider(Trust::None).vouches_for(&claims("a@x.com", true)));
        let team = provider(Trust::Domains(vec!["corp.example".into()]));
        assert!(team.vouches_for(&claims("a@corp.example", true)));
        assert!(!team.vouches_for(&claims("a@other.example", true)));
        assert!(!team.vouches_for(&claims("a@corp.example", false)));
    }
}
