//! Signing in and out (A4, P6). Sessions are opaque random tokens; only their
//! SHA-256 is stored. A session without "keep me signed in" ends after 30
//! minutes without activity, and 12 hours after sign-in however active it
//! is; one with it ends after 7 days without activity, and 30 days after
//! sign-in.
//!
//! Repeated failed sign-ins lock an account for a while (A9). A locked
//! account answers exactly like a wrong password, so that the answer tells
//! nobody whether an account exists; its owner is told by mail, with a reset
//! link that also ends the lock. Each lock in a row lasts twice as long as
//! the one before, from one minute up to `lockout_minutes`, and the count of
//! failures starts again when a lock begins.

use postroom_core::{api, AccountEvent};

use serde_json::json;

use super::accounts;
use super::actor::{Actor, Client};
use super::limits::{self, Check};
use super::notify;
use super::tokens;
use super::two_factor::{self, Factor};
use super::views;
use crate::clock::{rfc3339, Millis, DAY, HOUR, MINUTE, SECOND};
use crate::error::{Error, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, sessions::SessionRow, users::UserRow, Tx};

pub const IDLE_TIMEOUT: Millis = 30 * MINUTE;
/// The longest a session without "keep me signed in" lives, however active.
pub const MAX_LIFETIME: Millis = 12 * HOUR;
/// The longest a session with "keep me signed in" lives.
pub const KEEP_SIGNED_IN: Millis = 30 * DAY;
/// How long a session with "keep me signed in" lives without activity.
pub const KEEP_IDLE_TIMEOUT: Millis = 7 * DAY;
/// The first lock of an account after repeated failures; each lock in a row
/// doubles it, up to the configured `lockout_minutes`.
pub const FIRST_LOCK: Millis = MINUTE;
/// Activity is written at most this often per session, so reads stay reads.
/// An idle session may thus end up to this much earlier than 30 minutes
/// after its very last request.
pub const TOUCH_EVERY: Millis = 15 * SECOND;

pub const SESSION_PREFIX: &str = "prs_";

pub struct SignIn<'a> {
    pub login: &'a str,
    pub password: &'a str,
    pub keep_signed_in: bool,
    pub captcha: Option<&'a str>,
    /// The second step, for an account with two-step verification (the
    /// API sends it with the password; a web page asks for it afterwards).
    pub otp: Option<&'a str>,
    pub recovery_code: Option<&'a str>,
}

/// What a web sign-in comes to: a session, or a page asking for the second
/// step, which carries the challenge.
pub enum WebSignIn {
    Started(Box<api::SignInResponse>),
    SecondStep { challenge: String },
}

fn account_disabled() -> Error {
    Error::forbidden(
        "account_disabled",
        "this account is disabled by the operator of this server; ask them to enable it",
    )
}

fn invalid_credentials() -> Error {
    Error::unauthenticated("invalid_credentials", "wrong login or password")
}

/// Signs in through the API: the password, and the code for an account
/// with two-step verification (401 `two_factor_required` without it).
pub async fn sign_in(app: &App, req: SignIn<'_>, client: &Client) -> Result<api::SignInResponse> {
    let user = first_factor(app, &req, client).await?;
    let mut tx = app.store.begin().await?;
    if two_factor::is_enabled(&mut tx, &user.id).await? {
        let Some(factor) = Factor::given(req.otp, req.recovery_code) else {
            return Err(two_factor::required());
        };
        if !two_factor::verify(app, &mut tx, &user, factor).await? {
            drop(tx);
            second_factor_failed(app, &user).await?;
            return Err(two_factor::invalid_code());
        }
    }
    finish(app, tx, &user, req.keep_signed_in, client).await
}

/// Signs in from the web page: the password, then, for an account with
/// two-step verification, a challenge that [`answer_challenge`] completes.
pub async fn sign_in_web(app: &App, req: SignIn<'_>, client: &Client) -> Result<WebSignIn> {
    let user = first_factor(app, &req, client).await?;
    begin_web(app, &user, req.keep_signed_in, client).await
}

/// Begins the web session of someone whose first factor was right (a
/// password, an identity provider), or asks for the second step first.
pub async fn begin_web(
    app: &App,
    user: &UserRow,
    keep_signed_in: bool,
    client: &Client,
) -> Result<WebSignIn> {
    if user.disabled_at.is_some() {
        return Err(account_disabled());
    }
    // Asked on a plain connection: the writer's turn is taken only for
    // what is written.
    if two_factor::is_enabled(&mut *app.store.conn().await?, &user.id).await? {
        let challenge = two_factor::challenge(app, user, keep_signed_in).await?;
        return Ok(WebSignIn::SecondStep { challenge });
    }
    let tx = app.store.begin().await?;
    Ok(WebSignIn::Started(Box::new(
        finish(app, tx, user, keep_signed_in, client).await?,
    )))
}

/// Completes a web sign-in with its second step. Wrong codes count like
/// wrong passwords; a challenge takes a few before it ends.
pub async fn answer_challenge(
    app: &App,
    challenge: &str,
    factor: Factor<'_>,
    client: &Client,
) -> Result<api::SignInResponse> {
    limits::limit(app, &[Check::new(limits::SIGN_IN_PER_IP, &client.ip)]).await?;
    let (row, user) = two_factor::open_challenge(app, challenge).await?;
    limits::limit(app, &[Check::new(limits::SIGN_IN_PER_ACCOUNT, &user.id)]).await?;
    let now = app.clock.now();
    let locked = user.locked_until.is_some_and(|until| until > now);
    let mut tx = app.store.begin().await?;
    if locked || !two_factor::verify(app, &mut tx, &user, factor).await? {
        drop(tx);
        if !locked {
            second_factor_failed(app, &user).await?;
        }
        return Err(two_factor::challenge_failed(app, &row.id).await?);
    }
    if !two_factor::end_challenge(&mut tx, &row.id).await? {
        return Err(two_factor::challenge_failed(app, &row.id).await?);
    }
    finish(app, tx, &user, row.keep_signed_in != 0, client).await
}

/// The account whose login and password these are, once the limits, the
/// lock and the operator allow it.
async fn first_factor(app: &App, req: &SignIn<'_>, client: &Client) -> Result<UserRow> {
    let login = req.login.trim();
    limits::guard(
        app,
        &[
            Check::new(limits::SIGN_IN_PER_IP, &client.ip),
            Check::new(limits::SIGN_IN_PER_ACCOUNT, login),
        ],
        req.captcha,
    )
    .await?;
    if login.is_empty() || login.len() > 254 || req.password.is_empty() || req.password.len() > 1024
    {
        return Err(invalid_credentials());
    }
    let user = {
        let mut c = app.store.conn().await?;
        if login.contains('@') {
            store::users::by_email_key(&mut c, &login.to_lowercase()).await?
        } else {
            store::users::by_username_key(&mut c, &login.to_ascii_lowercase()).await?
        }
    };
    let now = app.clock.now();
    // A locked account is checked like any other, so that it takes as long
    // and answers the same as a wrong password.
    let locked = user
        .as_ref()
        .is_some_and(|u| u.locked_until.is_some_and(|until| until > now));
    let ok = app
        .hasher
        .verify(
            req.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(user) if ok && !locked => user,
        user => {
            metrics::counter!("postroom_sign_ins_total", "result" => "failed").increment(1);
            if let Some(user) = user.filter(|_| !locked) {
                record_failure(app, &user, now).await?;
            }
            return Err(invalid_credentials());
        }
    };
    // Said only to whoever knows the password.
    if user.disabled_at.is_some() {
        return Err(account_disabled());
    }
    // A team enforcing single sign-on for the address's domain (A7).
    super::oidc::sso_not_required(app, &user).await?;
    Ok(user)
}

/// A wrong second step counts like a wrong password.
async fn second_factor_failed(app: &App, user: &UserRow) -> Result<()> {
    metrics::counter!("postroom_sign_ins_total", "result" => "failed").increment(1);
    record_failure(app, user, app.clock.now()).await
}

/// Begins the session of a sign-in that passed every step.
async fn finish(
    app: &App,
    mut tx: Tx,
    user: &UserRow,
    keep_signed_in: bool,
    client: &Client,
) -> Result<api::SignInResponse> {
    if user.failed_sign_ins != 0 || user.locked_until.is_some() {
        store::users::clear_failed_sign_ins(&mut tx, &user.id).await?;
    }
    let started = start(
        app,
        &mut tx,
        user,
        &NewSession {
            keep_signed_in,
            client,
            label: None,
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("postroom_sign_ins_total", "result" => "ok").increment(1);
    Ok(started.answer(app, user))
}

/// A session about to begin for someone whose sign-in succeeded.
pub struct NewSession<'a> {
    pub keep_signed_in: bool,
    /// Where the sign-in came from: the session's address and user agent.
    pub client: &'a Client,
    /// What the sessions list calls it; by default, what its user agent says.
    pub label: Option<&'a str>,
}

/// A session begun, and its bearer token (shown only this once).
pub struct Started {
    pub token: String,
    pub session: SessionRow,
}

impl Started {
    /// What a sign-in answers: the token, the session and its account.
    pub fn answer(self, app: &App, user: &UserRow) -> api::SignInResponse {
        api::SignInResponse {
            session: views::session(&self.session, Some(&self.session.id)),
            token: self.token,
            user: views::user(app, user),
        }
    }
}

/// Begins a session for `user` in the caller's transaction, whatever the
/// way in (a password, a program signed in through the browser): a new
/// random token, stored hashed, with the lifetimes of [`expiry`]; and, when
/// it comes from a device the account has not used before (and the account
/// has used others), the "new sign-in" notice.
pub async fn start(
    app: &App,
    tx: &mut Tx,
    user: &UserRow,
    new: &NewSession<'_>,
) -> Result<Started> {
    // Whatever the way in: a disabled account begins no session (a program's
    // sign-in approved just before the operator disabled it, say).
    if user.disabled_at.is_some() {
        return Err(account_disabled());
    }
    let now = app.clock.now();
    let token = format!("{SESSION_PREFIX}{}", tokens::random_token(32));
    let expires_at = expiry(new.keep_signed_in, now, now);
    let session_id = store::new_id();
    let user_agent = new.client.user_agent.as_deref().map(|ua| truncate(ua, 400));
    let device = match new.label {
        Some(label) => label.to_owned(),
        None => views::device_label(user_agent),
    };
    let session = store::sessions::insert(
        tx,
        &store::sessions::NewSession {
            id: &session_id,
            user_id: &user.id,
            token_hash: &tokens::hash(&token),
            keep_signed_in: new.keep_signed_in,
            user_agent,
            ip: Some(&new.client.ip),
            expires_at,
            label: new.label,
        },
        now,
    )
    .await?;
    let had_devices = store::users::has_devices(tx, &user.id).await?;
    let new_device =
        store::users::remember_device(tx, &user.id, &tokens::hash(&device), now).await?;
    if new_device && had_devices {
        notify::send(
            app,
            tx,
            user,
            AccountEvent::NewSignIn {
                device,
                ip: new.client.ip.clone(),
            },
            None,
        )
        .await?;
    }
    Ok(Started { token, session })
}

/// When a session signed in at `created_at` ends if it is not used again
/// after `now`.
pub fn expiry(keep_signed_in: bool, created_at: Millis, now: Millis) -> Millis {
    if keep_signed_in {
        (now + KEEP_IDLE_TIMEOUT).min(created_at + KEEP_SIGNED_IN)
    } else {
        (now + IDLE_TIMEOUT).min(created_at + MAX_LIFETIME)
    }
}

/// How long the lock after `lockouts` earlier locks in a row lasts.
pub fn lock_duration(lockouts: i64, longest: Millis) -> Millis {
    let doublings = lockouts.clamp(0, 20) as u32;
    (FIRST_LOCK << doublings).min(longest).max(FIRST_LOCK)
}

/// Counts a wrong password against an account that is not locked; the
/// failure that reaches the threshold locks it and mails its owner a reset
/// link, which also ends the lock.
async fn record_failure(app: &App, user: &UserRow, now: Millis) -> Result<()> {
    let mut tx = app.store.begin().await?;
    let (failures, lockouts) = store::users::record_failed_sign_in(&mut tx, &user.id).await?;
    if failures < app.settings.lockout_threshold as i64 {
        tx.commit().await?;
        return Ok(());
    }
    let longest = app.settings.lockout_minutes as i64 * MINUTE;
    let until = now + lock_duration(lockouts, longest);
    store::users::lock(&mut tx, &user.id, until).await?;
    let link = accounts::reset_link(app, &mut tx, &user.id).await?;
    app.mailer
        .queue(
            &mut tx,
            &user.email,
            Template::AccountLocked,
            json!({
                "username": user.username,
                "failures": failures,
                "until": rfc3339(until),
                "link": link,
            }),
            now,
        )
        .await?;
    tx.commit().await?;
    metrics::counter!("postroom_account_locks_total").increment(1);
    tracing::warn!(user = %user.id, failures, until, "account locked after repeated failed sign-ins");
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Resolves a bearer token to its session's actor, recording activity.
pub async fn authenticate(app: &App, token: &str) -> Result<Actor> {
    authenticate_as(app, token, Activity::Record).await
}

/// Whether checking a session counts as using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A request: the session's idle time starts again.
    Record,
    /// A long-lived connection checking that its session still holds: an
    /// open socket alone does not keep a session from going idle.
    Ignore,
}

/// [`authenticate`], saying whether this counts as activity.
pub async fn authenticate_as(app: &App, token: &str, activity: Activity) -> Result<Actor> {
    let unauthenticated = || {
        Error::unauthenticated(
            "unauthenticated",
            "sign in first: the session is missing, expired or revoked",
        )
    };
    if !tokens::well_formed(token, SESSION_PREFIX) {
        return Err(unauthenticated());
    }
    let now = app.clock.now();
    let token_hash = tokens::hash(token);
    let cache = app.store.cache();
    let session = match cache.session(&token_hash, now) {
        Some(session) => session,
        None => {
            let stamp = cache.stamp();
            let row = {
                let mut c = app.store.conn().await?;
                store::sessions::by_token_hash(&mut c, &token_hash, now)
                    .await?
                    .ok_or_else(unauthenticated)?
            };
            cache.insert_session(&token_hash, row, stamp, now)
        }
    };
    let last_active_at = session.last_active_at();
    if activity == Activity::Record
        && now - last_active_at >= TOUCH_EVERY
        && session.claim_touch(last_active_at, now)
    {
        // Bookkeeping: a relaxed transaction, which does not wait for the disk.
        let expires_at = expiry(session.row.keep_signed_in != 0, session.row.created_at, now);
        let mut tx = app.store.begin_relaxed().await?;
        store::sessions::touch(&mut tx, &session.row.id, now, expires_at).await?;
        tx.commit().await?;
        session.extend(expires_at);
    }
    Ok(Actor {
        user_id: session.row.user_id.clone(),
        session_id: Some(session.row.id.clone()),
        can_write: true,
    })
}

pub async fn list(app: &App, actor: &Actor) -> Result<api::SessionList> {
    let mut c = app.store.conn().await?;
    let rows = store::sessions::list_live(&mut c, &actor.user_id, app.clock.now()).await?;
    Ok(api::SessionList {
        sessions: rows
            .iter()
            .map(|s| views::session(s, actor.session_id.as_deref()))
            .collect(),
    })
}

/// Ends one of the actor's own sessions; someone else's is "not found".
pub async fn revoke(app: &App, actor: &Actor, session_id: &str) -> Result<()> {
    let mut tx = app.store.begin().await?;
    if store::sessions::delete_own(&mut tx, &actor.user_id, session_id).await? {
        tx.commit().await?;
        Ok(())
    } else {
        Err(Error::NotFound { what: "session" })
    }
}

pub async fn revoke_others(app: &App, actor: &Actor) -> Result<api::RevokedCount> {
    let mut tx = app.store.begin().await?;
    let revoked =
        store::sessions::delete_all_except(&mut tx, &actor.user_id, actor.session_id.as_deref())
            .await?;
    tx.commit().await?;
    Ok(api::RevokedCount { revoked })
}

pub async fn sign_out(app: &App, actor: &Actor) -> Result<()> {
    let Some(session_id) = &actor.session_id else {
        return Err(Error::bad_request(
            "not_a_session",
            "this request was made with an API key, not a session",
        ));
    };
    revoke(app, actor, session_id).await
}
