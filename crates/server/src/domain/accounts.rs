//! Accounts (A1, A8, P1, P2, P7): sign-up and email confirmation, password
//! reset and username reminder by mail, password and email changes.

use std::sync::Arc;

use postroom_core::api;
use postroom_core::{AccountEvent, Email, Username};
use serde_json::json;

use super::actor::{Actor, Client};
use super::limits::{self, Check};
use super::notify;
use super::{tokens, views};
use crate::clock::{rfc3339, Millis, DAY, HOUR};
use crate::error::{Error, FieldErrors, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, tokens::Purpose, users::UserRow, Conn, Tx};

pub const VERIFY_EMAIL_TTL: Millis = 24 * HOUR;
pub const RESET_PASSWORD_TTL: Millis = HOUR;
pub const CHANGE_EMAIL_TTL: Millis = DAY;

/// The reply to requests that must not reveal whether an account exists.
pub fn accepted() -> api::Accepted {
    api::Accepted {
        message: "if an account matches, we have sent it an email".into(),
    }
}

fn invalid_token() -> Error {
    Error::bad_request(
        "invalid_token",
        "this link is not valid: it was already used, has expired, or was replaced by a newer one",
    )
}

fn email_taken() -> Error {
    Error::conflict(
        "email_taken",
        Some("email"),
        "an account with this email address already exists",
    )
}

pub(crate) fn username_taken() -> Error {
    Error::conflict("username_taken", Some("username"), "this username is taken")
}

pub async fn load_user(c: &mut Conn, id: &str) -> Result<UserRow> {
    store::users::by_id(c, id)
        .await?
        .ok_or(Error::NotFound { what: "user" })
}

/// The signed-in person's account for showing it, from the cache when it
/// holds it. Decisions that a concurrent change could race (anything that
/// writes) read the row inside their transaction with [`load_user`] instead.
pub async fn current_user(app: &App, id: &str) -> Result<Arc<UserRow>> {
    let now = app.clock.now();
    let cache = app.store.cache();
    if let Some(user) = cache.user(id, now) {
        return Ok(user);
    }
    let stamp = cache.stamp();
    let user = load_user(&mut *app.store.conn().await?, id).await?;
    Ok(cache.insert_user(user, stamp, now))
}

/// Creates a single-use link token and returns the token (not its hash).
async fn issue_token(
    app: &App,
    c: &mut Tx,
    user_id: &str,
    purpose: Purpose,
    new_email: Option<&str>,
    ttl: Millis,
) -> Result<String> {
    let now = app.clock.now();
    store::tokens::void_unused(c, user_id, purpose, now).await?;
    let token = tokens::random_token(32);
    store::tokens::insert(
        c,
        &tokens::hash(&token),
        user_id,
        purpose,
        new_email,
        now,
        now + ttl,
    )
    .await?;
    Ok(token)
}

/// Queues the confirmation mail. Its link carries `next`, a local path to
/// go on to once confirmed (the invite a person signed up from), when given.
async fn queue_verification(
    app: &App,
    c: &mut Tx,
    user: &UserRow,
    next: Option<&str>,
) -> Result<()> {
    let token = issue_token(
        app,
        c,
        &user.id,
        Purpose::VerifyEmail,
        None,
        VERIFY_EMAIL_TTL,
    )
    .await?;
    let mut link = app.settings.link(&format!("/verify-email?token={token}"));
    if let Some(next) = next {
        link.push_str("&next=");
        link.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
    }
    app.mailer
        .queue(
            c,
            &user.email,
            Template::VerifyEmail,
            json!({ "username": user.username, "link": link }),
            app.clock.now(),
        )
        .await
}

pub async fn sign_up(app: &App, req: &api::SignUpRequest, client: &Client) -> Result<api::User> {
    sign_up_then(app, req, client, None).await
}

/// Sign-up whose confirmation link leads on to `next` (a local path the
/// caller has checked), as the sign-up page does for an invite.
pub async fn sign_up_then(
    app: &App,
    req: &api::SignUpRequest,
    client: &Client,
    next: Option<&str>,
) -> Result<api::User> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", Email::parse(&req.email));
    let username = errors.check("username", Username::parse(&req.username));
    let length_ok = errors
        .check(
            "password",
            postroom_core::values::check_password_length(&req.password),
        )
        .is_some();
    if app.settings.terms_url.is_some() && !req.accept_terms {
        errors.add("accept_terms", "you must accept the terms of service");
    }
    errors.into_result()?;
    let (email, username) = (email.expect("checked"), username.expect("checked"));
    debug_assert!(length_ok);
    limits::guard(
        app,
        &[Check::new(limits::SIGN_UP_PER_IP, &client.ip)],
        req.captcha.as_deref(),
    )
    .await?;
    let local_part = email.as_str().split('@').next().unwrap_or_default();
    app.hasher
        .check_strength(
            "password",
            &req.password,
            &[username.as_str(), local_part, "postroom"],
        )
        .await?;
    {
        let mut c = app.store.conn().await?;
        if store::users::by_username_key(&mut c, &username.key())
            .await?
            .is_some()
        {
            return Err(username_taken());
        }
        if store::users::by_email_key(&mut c, &email.key())
            .await?
            .is_some()
        {
            return Err(email_taken());
        }
    }
    let password_hash = app.hasher.hash(&req.password).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (username_key, email_key) = (username.key(), email.key());
    let new_user = store::users::NewUser {
        username: username.as_str(),
        username_key: &username_key,
        email: email.as_str(),
        email_key: &email_key,
        password_hash: &password_hash,
    };
    // The unique constraints decide races the checks above could not.
    let user = match store::users::insert(&mut tx, &new_user, now).await {
        Ok(u) => u,
        Err(e) if store::is_unique_violation(&e, "users_username_key") => {
            return Err(username_taken())
        }
        Err(e) if store::is_unique_violation(&e, "users_email_key") => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    };
    queue_verification(app, &mut tx, &user, next).await?;
    tx.commit().await?;
    Ok(views::user(app, &user))
}

/// An identity at an OpenID provider, linked to an account as it is created.
pub struct LinkedIdentity<'a> {
    /// The configured provider's id, or `team:<team id>`.
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
}

/// Creates an account that signs in through a provider (A2): no password
/// (an empty hash, which no password matches; one can be set by a reset).
/// The address is confirmed at once when the provider vouched for it, and
/// otherwise by the confirmation mail of a sign-up, whose link leads on to
/// `next`. The terms were accepted on the page that asked for the username.
pub async fn create_without_password(
    app: &App,
    email: &Email,
    username: &Username,
    email_verified: bool,
    next: Option<&str>,
    identity: &LinkedIdentity<'_>,
) -> Result<UserRow> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (username_key, email_key) = (username.key(), email.key());
    let new_user = store::users::NewUser {
        username: username.as_str(),
        username_key: &username_key,
        email: email.as_str(),
        email_key: &email_key,
        password_hash: super::passwords::NO_PASSWORD,
    };
    let user = match store::users::insert(&mut tx, &new_user, now).await {
        Ok(u) => u,
        Err(e) if store::is_unique_violation(&e, "users_username_key") => {
            return Err(username_taken())
        }
        Err(e) if store::is_unique_violation(&e, "users_email_key") => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    };
    match store::oidc::insert_identity(
        &mut tx,
        &user.id,
        identity.provider,
        identity.subject,
        identity.email,
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(e) if store::is_unique_violation(&e, "oidc_identities_provider_subject") => {
            return Err(Error::conflict(
                "identity_taken",
                None,
                "this identity is already linked to another Postroom account",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if email_verified {
        store::users::mark_email_verified(&mut tx, &user.id, now).await?;
    } else {
        queue_verification(app, &mut tx, &user, next).await?;
    }
    let user = load_user(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn verify_email(app: &App, token: &str, client: &Client) -> Result<api::User> {
    limits::limit(app, &[Check::new(limits::TOKEN_PER_IP, &client.ip)]).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let used = store::tokens::consume(
        &mut tx,
        &tokens::hash(token.trim()),
        Purpose::VerifyEmail,
        now,
    )
    .await?
    .ok_or_else(invalid_token)?;
    store::users::mark_email_verified(&mut tx, &used.user_id, now).await?;
    let user = load_user(&mut tx, &used.user_id).await?;
    tx.commit().await?;
    Ok(views::user(app, &user))
}

/// Guards a request that names an email address and hands `work` the
/// account with that address, if any, after the reply: the caller answers
/// [`accepted`] at once, so that neither the answer nor its timing depends on
/// whether the account exists.
async fn after_recovery_reply<F, Fut>(
    app: &App,
    req: &api::EmailRequest,
    client: &Client,
    what: &'static str,
    work: F,
) -> Result<api::Accepted>
where
    F: FnOnce(App, UserRow, Millis) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let email =
        Email::parse(&req.email).map_err(|e| Error::field("email", "validation_failed", e.0))?;
    let key = email.key();
    limits::guard(
        app,
        &[
            Check::new(limits::RECOVERY_PER_IP, &client.ip),
            Check::new(limits::RECOVERY_PER_ACCOUNT, &key),
        ],
        req.captcha.as_deref(),
    )
    .await?;
    let now = app.clock.now();
    let job_app = app.clone();
    app.deferred.run(what, async move {
        let user = store::users::by_email_key(&mut *job_app.store.conn().await?, &key).await?;
        match user {
            Some(user) => work(job_app, user, now).await,
            None => Ok(()),
        }
    });
    Ok(accepted())
}

pub async fn resend_verification(
    app: &App,
    req: &api::EmailRequest,
    client: &Client,
) -> Result<api::Accepted> {
    resend_verification_then(app, req, client, None).await
}

/// Resends the confirmation mail, its link leading on to `next` (a local
/// path the caller has checked), as the "Check your email" page does.
pub async fn resend_verification_then(
    app: &App,
    req: &api::EmailRequest,
    client: &Client,
    next: Option<String>,
) -> Result<api::Accepted> {
    after_recovery_reply(
        app,
        req,
        client,
        "resend verification",
        |app, user, _| async move {
            if user.email_verified_at.is_some() {
                return Ok(());
            }
            let mut tx = app.store.begin().await?;
            queue_verification(&app, &mut tx, &user, next.as_deref()).await?;
            tx.commit().await?;
            Ok(())
        },
    )
    .await
}

/// A new password reset link for the account (replacing any older one), to
/// be mailed in the caller's transaction.
pub async fn reset_link(app: &App, c: &mut Tx, user_id: &str) -> Result<String> {
    let token = issue_token(
        app,
        c,
        user_id,
        Purpose::ResetPassword,
        None,
        RESET_PASSWORD_TTL,
    )
    .await?;
    Ok(app.settings.link(&format!("/reset-password?token={token}")))
}

pub async fn request_password_reset(
    app: &App,
    req: &api::EmailRequest,
    client: &Client,
) -> Result<api::Accepted> {
    after_recovery_reply(
        app,
        req,
        client,
        "password reset",
        |app, user, now| async move {
            let mut tx = app.store.begin().await?;
            let link = reset_link(&app, &mut tx, &user.id).await?;
            app.mailer
                .queue(
                    &mut tx,
                    &user.email,
                    Template::ResetPassword,
                    json!({ "username": user.username, "link": link }),
                    now,
                )
                .await?;
            tx.commit().await?;
            Ok(())
        },
    )
    .await
}

pub async fn username_reminder(
    app: &App,
    req: &api::EmailRequest,
    client: &Client,
) -> Result<api::Accepted> {
    after_recovery_reply(
        app,
        req,
        client,
        "username reminder",
        |app, user, now| async move {
            let mut tx = app.store.begin().await?;
            app.mailer
                .queue(
                    &mut tx,
                    &user.email,
                    Template::UsernameReminder,
                    json!({ "username": user.username }),
                    now,
                )
                .await?;
            tx.commit().await?;
            Ok(())
        },
    )
    .await
}

/// Ends what a changed password must end: the account's sessions (all, or
/// all but `keep`), every API key, every link mailed before the change (an
/// email change or a reset waiting to be used), and every program's sign-in
/// request approved but not yet exchanged for a session. Returns the number
/// of API keys revoked.
async fn end_credentials(
    c: &mut Tx,
    user_id: &str,
    keep_session: Option<&str>,
    now: Millis,
) -> Result<u64> {
    store::sessions::delete_all_except(c, user_id, keep_session).await?;
    store::tokens::void_all_unused(c, user_id, now).await?;
    store::oauth::void_for_user(c, user_id).await?;
    Ok(store::api_keys::revoke_all(c, user_id, now).await?)
}

/// Sets a new password from a reset link: signs out every session, revokes
/// every API key, voids the account's other mailed links and ends a lock.
pub async fn confirm_password_reset(
    app: &App,
    req: &api::ResetConfirmRequest,
    client: &Client,
) -> Result<()> {
    limits::limit(app, &[Check::new(limits::TOKEN_PER_IP, &client.ip)]).await?;
    let token_hash = tokens::hash(req.token.trim());
    let user = {
        let mut c = app.store.conn().await?;
        let target =
            store::tokens::peek(&mut c, &token_hash, Purpose::ResetPassword, app.clock.now())
                .await?
                .ok_or_else(invalid_token)?;
        load_user(&mut c, &target.user_id).await?
    };
    let local_part = user.email.split('@').next().unwrap_or_default();
    app.hasher
        .check_strength(
            "new_password",
            &req.new_password,
            &[&user.username, local_part, "postroom"],
        )
        .await?;
    let hash = app.hasher.hash(&req.new_password).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    // Consuming is the real check: a concurrent use of the same link loses here.
    store::tokens::consume(&mut tx, &token_hash, Purpose::ResetPassword, now)
        .await?
        .ok_or_else(invalid_token)?;
    store::users::set_password_hash(&mut tx, &user.id, &hash, now).await?;
    // Receiving the link proves the address too.
    store::users::mark_email_verified(&mut tx, &user.id, now).await?;
    let keys_revoked = end_credentials(&mut tx, &user.id, None, now).await?;
    notify::send(
        app,
        &mut tx,
        &user,
        AccountEvent::PasswordChanged {
            by_reset: true,
            keys_revoked,
        },
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The actor's account, once `password` (the form's `field`) proved to be
/// its password. Attempts count against the per-account limit.
pub(crate) async fn confirmed_by_password(
    app: &App,
    actor: &Actor,
    field: &str,
    password: &str,
) -> Result<UserRow> {
    limits::limit(
        app,
        &[Check::new(limits::PASSWORD_PER_ACCOUNT, &actor.user_id)],
    )
    .await?;
    let user = load_user(&mut *app.store.conn().await?, &actor.user_id).await?;
    if app
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
    {
        Ok(user)
    } else {
        Err(Error::field(
            field,
            "wrong_password",
            "the password is not correct",
        ))
    }
}

/// Changes the password (P7): signs out the actor's other sessions, revokes
/// every API key and voids the account's mailed links.
pub async fn change_password(
    app: &App,
    actor: &Actor,
    req: &api::ChangePasswordRequest,
) -> Result<()> {
    let user = confirmed_by_password(app, actor, "current_password", &req.current_password).await?;
    let local_part = user.email.split('@').next().unwrap_or_default();
    app.hasher
        .check_strength(
            "new_password",
            &req.new_password,
            &[&user.username, local_part, "postroom"],
        )
        .await?;
    let hash = app.hasher.hash(&req.new_password).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::users::set_password_hash(&mut tx, &user.id, &hash, now).await?;
    let keys_revoked = end_credentials(&mut tx, &user.id, actor.session_id.as_deref(), now).await?;
    notify::send(
        app,
        &mut tx,
        &user,
        AccountEvent::PasswordChanged {
            by_reset: false,
            keys_revoked,
        },
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the caller's account (P9), confirmed with its password. Teams the
/// person alone administers while others remain in them must be handed over
/// first (409 `sole_admin`, nothing deleted); a team of which they are the
/// only member goes with the account. Everything else of theirs cascades
/// with the account row; one last mail confirms the deletion.
pub async fn delete_account(
    app: &App,
    actor: &Actor,
    req: &api::DeleteAccountRequest,
) -> Result<()> {
    let user = confirmed_by_password(app, actor, "password", &req.password).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let sole_admin_of = delete_in(app, &mut tx, &user, now).await?;
    if !sole_admin_of.is_empty() {
        tx.rollback().await?;
        return Err(Error::conflict(
            "sole_admin",
            None,
            format!(
                "you are the only admin of {}: make another member an admin, or remove the \
                 other members, before deleting your account",
                sole_admin_of.join(", ")
            ),
        ));
    }
    tx.commit().await?;
    metrics::counter!("postroom_accounts_deleted_total").increment(1);
    tracing::info!(user = %user.id, "account deleted by its owner");
    Ok(())
}

/// Deletes an account in the caller's transaction, by the rules of the
/// person's own deletion: it leaves its teams (a team where it was the only
/// member goes with it) and everything of its cascades. Answers the teams
/// it alone administers while others remain, in which case nothing may be
/// committed. One last mail confirms the deletion to the person.
pub(crate) async fn delete_in(
    app: &App,
    tx: &mut Tx,
    user: &UserRow,
    now: Millis,
) -> Result<Vec<String>> {
    if !store::users::lock_for_deletion(tx, &user.id).await? {
        return Err(Error::NotFound { what: "account" });
    }
    let sole_admin_of = super::teams::leave_all_for_deletion(app, tx, user, now).await?;
    if !sole_admin_of.is_empty() {
        return Ok(sole_admin_of);
    }
    store::events::delete_scope(tx, &format!("user:{}", user.id)).await?;
    // Private items go with the account row; their change log goes here.
    store::events::delete_scope(tx, &super::workspace::user_scope(&user.id)).await?;
    // The row is locked above, so it is there to delete.
    store::users::delete(tx, &user.id).await?;
    app.mailer
        .queue(
            tx,
            &user.email,
            Template::AccountDeleted,
            json!({ "username": user.username, "when": rfc3339(now) }),
            now,
        )
        .await?;
    Ok(Vec::new())
}

/// Starts an email change (P2): a link to the new address, a notice to the
/// old one. Nothing changes until the link is used.
pub async fn request_email_change(
    app: &App,
    actor: &Actor,
    req: &api::ChangeEmailRequest,
) -> Result<api::Accepted> {
    let new_email = Email::parse(&req.new_email)
        .map_err(|e| Error::field("new_email", "validation_failed", e.0))?;
    let user = confirmed_by_password(app, actor, "password", &req.password).await?;
    if new_email.key() == user.email.to_lowercase() {
        return Err(Error::field(
            "new_email",
            "same_email",
            "this is already your email address",
        ));
    }
    if store::users::by_email_key(&mut *app.store.conn().await?, &new_email.key())
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "email_taken",
            Some("new_email"),
            "an account with this email address already exists",
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let token = issue_token(
        app,
        &mut tx,
        &user.id,
        Purpose::ChangeEmail,
        Some(new_email.as_str()),
        CHANGE_EMAIL_TTL,
    )
    .await?;
    let link = app.settings.link(&format!("/confirm-email?token={token}"));
    app.mailer
        .queue(
            &mut tx,
            new_email.as_str(),
            Template::ConfirmNewEmail,
            json!({ "username": user.username, "link": link }),
            now,
        )
        .await?;
    app.mailer
        .queue(
            &mut tx,
            &user.email,
            Template::EmailChangeRequested,
            json!({
                "username": user.username,
                "new_email": new_email.as_str(),
                "settings_link": app.settings.link("/settings/account"),
            }),
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(api::Accepted {
        message: format!(
            "we sent a confirmation link to {new_email}; the change happens when it is opened"
        ),
    })
}

pub async fn confirm_email_change(app: &App, token: &str, client: &Client) -> Result<api::User> {
    limits::limit(app, &[Check::new(limits::TOKEN_PER_IP, &client.ip)]).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let used = store::tokens::consume(
        &mut tx,
        &tokens::hash(token.trim()),
        Purpose::ChangeEmail,
        now,
    )
    .await?
    .ok_or_else(invalid_token)?;
    let new_email =
        Email::parse(used.new_email.as_deref().unwrap_or_default()).map_err(|_| invalid_token())?;
    let before = load_user(&mut tx, &used.user_id).await?;
    match store::users::set_email(
        &mut tx,
        &before.id,
        new_email.as_str(),
        &new_email.key(),
        now,
    )
    .await
    {
        Ok(()) => {}
        Err(e) if store::is_unique_violation(&e, "users_email_key") => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    }
    // Links mailed to the old address (a reset, a confirmation) no longer
    // speak for the account.
    store::tokens::void_all_unused(&mut tx, &before.id, now).await?;
    notify::send(
        app,
        &mut tx,
        &before,
        AccountEvent::EmailChanged {
            old_email: before.email.clone(),
            new_email: new_email.as_str().to_owned(),
        },
        Some(&before.email),
    )
    .await?;
    let after = load_user(&mut tx, &before.id).await?;
    tx.commit().await?;
    Ok(views::user(app, &after))
}
