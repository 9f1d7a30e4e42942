//! The operator's console (O7, P10): who is an operator, the fresh password
//! check in front of the operator pages, and what an operator does to
//! accounts, teams and support requests. Every action is written to the
//! operator's audit log in the transaction that does it.
//!
//! An operator is an account whose confirmed address the configuration
//! names (`operators`), or one made an operator from the command line
//! (`postroom admin create-user --operator`). The pages ask for the
//! operator's password again when the session has not proved it for
//! [`CONFIRM_FOR`]; the command line acts as "command line", for whoever
//! holds the server's shell.

use postroom_core::{api, Email, Username};
use serde_json::{json, Value};

use super::accounts::{self, confirmed_by_password};
use super::actor::Actor;
use super::plans;
use super::tokens;
use crate::clock::{rfc3339, Millis, MINUTE};
use crate::error::{Error, FieldErrors, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, operator as ops, users::UserRow, Tx};

/// How long a password check opens the operator pages for.
pub const CONFIRM_FOR: Millis = 15 * MINUTE;
pub const PAGE: i64 = 50;
pub const MAX_ANSWER: usize = 10_000;

/// Who acts.
#[derive(Debug, Clone)]
pub enum By {
    /// An operator on the pages.
    Operator { user_id: String, username: String },
    /// The server's command line.
    CommandLine,
}

impl By {
    fn id(&self) -> Option<&str> {
        match self {
            By::Operator { user_id, .. } => Some(user_id),
            By::CommandLine => None,
        }
    }

    fn name(&self) -> &str {
        match self {
            By::Operator { username, .. } => username,
            By::CommandLine => "command line",
        }
    }
}

/// Whether an account is an operator.
pub fn is_operator(app: &App, user: &UserRow) -> bool {
    user.disabled_at.is_none()
        && (user.operator != 0 || named_operator(app, &user.email, user.email_verified_at))
}

/// Whether the configuration names this confirmed address an operator.
pub fn named_operator(app: &App, email: &str, verified_at: Option<Millis>) -> bool {
    verified_at.is_some() && app.settings.operators.contains(&email.to_lowercase())
}

/// How many support requests have `status`.
pub async fn count_support(app: &App, status: &str) -> Result<i64> {
    Ok(ops::count_support(&mut *app.store.conn().await?, status).await?)
}

/// What the signed-in person may do on the operator pages.
pub enum Access {
    Open(By),
    /// An operator whose session must prove the password first.
    Confirm,
    /// Not an operator: the pages do not exist for them (404).
    Closed,
}

pub async fn access(app: &App, actor: &Actor) -> Result<Access> {
    let user = accounts::current_user(app, &actor.user_id).await?;
    if !is_operator(app, &user) {
        return Ok(Access::Closed);
    }
    let Some(session_id) = &actor.session_id else {
        return Ok(Access::Closed);
    };
    let confirmed = ops::confirmed_at(&mut *app.store.conn().await?, session_id).await?;
    let now = app.clock.now();
    Ok(match confirmed {
        Some(at) if now - at < CONFIRM_FOR => Access::Open(By::Operator {
            user_id: user.id.clone(),
            username: user.username.clone(),
        }),
        _ => Access::Confirm,
    })
}

/// Proves the operator's password for this session.
pub async fn confirm(app: &App, actor: &Actor, password: &str) -> Result<()> {
    let user = confirmed_by_password(app, actor, "password", password).await?;
    let (Some(session_id), true) = (&actor.session_id, is_operator(app, &user)) else {
        return Err(Error::NotFound { what: "page" });
    };
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    ops::confirm(&mut tx, session_id, now).await?;
    let by = By::Operator {
        user_id: user.id.clone(),
        username: user.username.clone(),
    };
    audit(&mut tx, &by, "signed_in", "operator pages", json!({}), now).await?;
    tx.commit().await?;
    Ok(())
}

async fn audit(
    tx: &mut Tx,
    by: &By,
    action: &str,
    target: &str,
    detail: Value,
    now: Millis,
) -> Result<()> {
    ops::audit(
        tx,
        &ops::NewAudit {
            id: &store::new_id(),
            operator_id: by.id(),
            operator: by.name(),
            action,
            target,
            detail: &detail.to_string(),
        },
        now,
    )
    .await?;
    Ok(())
}

/// An account found by id or by username (the command line names people
/// by username).
async fn find(app: &App, who: &str) -> Result<UserRow> {
    let mut c = app.store.conn().await?;
    let user = match store::users::by_id(&mut c, who).await? {
        Some(user) => Some(user),
        None => store::users::by_username_key(&mut c, &who.to_ascii_lowercase()).await?,
    };
    user.ok_or(Error::NotFound { what: "account" })
}

pub async fn accounts(app: &App, search: &str, after: &str) -> Result<Vec<ops::AccountRow>> {
    let search = search.trim().to_lowercase();
    Ok(ops::accounts(&mut *app.store.conn().await?, &search, after, PAGE).await?)
}

pub async fn account(
    app: &App,
    who: &str,
) -> Result<(ops::AccountRow, Vec<store::teams::MyTeamRow>)> {
    let user = find(app, who).await?;
    let mut c = app.store.conn().await?;
    let row = ops::account(&mut c, &user.id)
        .await?
        .ok_or(Error::NotFound { what: "account" })?;
    let teams = store::teams::of_user(&mut c, &user.id).await?;
    Ok((row, teams))
}

/// Disables an account: it cannot sign in, its sessions end and its API
/// keys are revoked at once (open sync sockets close), and its teams are
/// told in their audit logs. Enabling it again lets it sign in; the ended
/// sessions and keys stay ended.
pub async fn set_disabled(app: &App, by: &By, who: &str, disabled: bool) -> Result<UserRow> {
    let user = find(app, who).await?;
    if disabled && by.id() == Some(user.id.as_str()) {
        return Err(Error::conflict(
            "own_account",
            None,
            "an operator cannot disable their own account",
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    ops::set_disabled(&mut tx, &user.id, disabled.then_some(now), now).await?;
    let mut detail = json!({ "username": user.username });
    if disabled {
        let sessions = store::sessions::delete_all_except(&mut tx, &user.id, None).await?;
        let keys = store::api_keys::revoke_all(&mut tx, &user.id, now).await?;
        detail =
            json!({ "username": user.username, "sessions_ended": sessions, "keys_revoked": keys });
    }
    super::teams::record_member_disabled(&mut tx, &user, disabled, now).await?;
    let action = if disabled { "disabled" } else { "enabled" };
    audit(
        &mut tx,
        by,
        action,
        &format!("account {}", user.id),
        detail,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, operator = by.name(), action, "operator action");
    Ok(user)
}

/// Ends every session of an account.
pub async fn sign_out_everywhere(app: &App, by: &By, who: &str) -> Result<u64> {
    let user = find(app, who).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let ended = store::sessions::delete_all_except(&mut tx, &user.id, None).await?;
    audit(
        &mut tx,
        by,
        "signed_out",
        &format!("account {}", user.id),
        json!({ "username": user.username, "sessions_ended": ended }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Turns off two-step verification for a person who lost both their app
/// and their recovery codes (the operator has made sure it is them); the
/// person is told as when they turn it off themselves.
pub async fn turn_off_two_factor(app: &App, by: &By, who: &str) -> Result<UserRow> {
    let user = find(app, who).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !store::two_factor::enabled(&mut tx, &user.id).await? {
        return Err(Error::conflict(
            "two_factor_off",
            None,
            "two-step verification is off for this account already",
        ));
    }
    store::two_factor::delete(&mut tx, &user.id).await?;
    super::notify::send(
        app,
        &mut tx,
        &user,
        postroom_core::AccountEvent::TwoFactorDisabled {},
        None,
    )
    .await?;
    audit(
        &mut tx,
        by,
        "two_factor_off",
        &format!("account {}", user.id),
        json!({ "username": user.username }),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, operator = by.name(), "operator turned off two-step verification");
    Ok(user)
}

/// Deletes an account by the rules of the person's own deletion.
pub async fn delete(app: &App, by: &By, who: &str) -> Result<UserRow> {
    let user = find(app, who).await?;
    if by.id() == Some(user.id.as_str()) {
        return Err(Error::conflict(
            "own_account",
            None,
            "delete your own account from your settings, not from the operator pages",
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let sole_admin_of = accounts::delete_in(app, &mut tx, &user, now).await?;
    if !sole_admin_of.is_empty() {
        tx.rollback().await?;
        return Err(Error::conflict(
            "sole_admin",
            None,
            format!(
                "{} is the only admin of {}, where others remain: make another member an admin first",
                user.username,
                sole_admin_of.join(", ")
            ),
        ));
    }
    audit(
        &mut tx,
        by,
        "deleted",
        &format!("account {}", user.id),
        json!({ "username": user.username, "email": user.email }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Creates an account for someone: they get a mail with a link to choose
/// their password (which also confirms their address).
pub async fn create_account(
    app: &App,
    by: &By,
    email: &str,
    username: &str,
    operator: bool,
) -> Result<UserRow> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", Email::parse(email));
    let username = errors.check("username", Username::parse(username));
    errors.into_result()?;
    let (email, username) = (email.expect("checked"), username.expect("checked"));
    // Nobody knows this password: the person chooses theirs by the link.
    let password_hash = app.hasher.hash(&tokens::random_token(32)).await?;
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
    let user = match store::users::insert(&mut tx, &new_user, now).await {
        Ok(u) => u,
        Err(e) if store::is_unique_violation(&e, "users_username_key") => {
            return Err(Error::field(
                "username",
                "username_taken",
                "this username is taken",
            ))
        }
        Err(e) if store::is_unique_violation(&e, "users_email_key") => {
            return Err(Error::field(
                "email",
                "email_taken",
                "an account with this address exists",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if operator {
        ops::set_operator(&mut tx, &user.id, true, now).await?;
    }
    let link = accounts::reset_link(app, &mut tx, &user.id).await?;
    app.mailer
        .queue(
            &mut tx,
            &user.email,
            Template::AccountCreated,
            json!({ "username": user.username, "link": link }),
            now,
        )
        .await?;
    audit(
        &mut tx,
        by,
        "created",
        &format!("account {}", user.id),
        json!({ "username": user.username, "email": user.email, "operator": operator }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Sets a team's plan (and seats) where no payment provider is configured;
/// with one, plans change by payment only (billing, B2), so this refuses.
pub async fn set_plan(
    app: &App,
    by: &By,
    slug: &str,
    plan: &str,
    seats: Option<i64>,
) -> Result<(String, i64)> {
    let plan = plans::parse(plan).ok_or_else(|| {
        let known: Vec<&str> = plans::ALL.iter().map(|p| p.id).collect();
        Error::field(
            "plan",
            "unknown_plan",
            format!("no such plan; the plans are {}", known.join(", ")),
        )
    })?;
    if app.payments().is_some() {
        return Err(Error::conflict(
            "billing_on",
            None,
            "a payment provider is configured: teams choose and pay for their plan under Billing",
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (team, before, seats) =
        super::teams::operator_set_plan(&mut tx, slug, plan, seats, now).await?;
    audit(
        &mut tx,
        by,
        "plan_set",
        &format!("team {}", team.id),
        json!({ "slug": team.slug, "from": before.id, "to": plan.id, "seats": seats }),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(team = %team.id, operator = by.name(), plan = plan.id, seats, "operator set a plan");
    Ok((plan.name.to_owned(), seats))
}

pub async fn teams(app: &App, after: &str) -> Result<Vec<ops::TeamRow>> {
    Ok(ops::teams(&mut *app.store.conn().await?, after, PAGE).await?)
}

pub async fn support(app: &App, status: &str, before: &str) -> Result<Vec<ops::SupportRow>> {
    let status = match status {
        "open" | "answered" | "closed" => status,
        _ => "",
    };
    Ok(ops::support(&mut *app.store.conn().await?, status, before, PAGE).await?)
}

pub async fn support_request(app: &App, id: &str) -> Result<ops::SupportRow> {
    ops::support_request(&mut *app.store.conn().await?, id)
        .await?
        .ok_or(Error::NotFound {
            what: "support request",
        })
}

/// Answers a support request: the answer is mailed to the person and shown
/// in their list.
pub async fn answer(app: &App, by: &By, id: &str, text: &str) -> Result<()> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_ANSWER {
        return Err(Error::field(
            "answer",
            "validation_failed",
            format!("the answer must be 1 to {MAX_ANSWER} characters"),
        ));
    }
    let request = support_request(app, id).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    ops::set_support_status(&mut tx, id, "answered", Some(text), now).await?;
    app.mailer
        .queue(
            &mut tx,
            &request.email,
            Template::SupportAnswered,
            json!({ "username": request.username, "subject": request.subject, "answer": text,
                    "link": app.settings.link("/support") }),
            now,
        )
        .await?;
    audit(
        &mut tx,
        by,
        "answered",
        &format!("support request {id}"),
        json!({ "subject": request.subject }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn close(app: &App, by: &By, id: &str) -> Result<()> {
    let request = support_request(app, id).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    ops::set_support_status(&mut tx, id, "closed", None, now).await?;
    audit(
        &mut tx,
        by,
        "closed",
        &format!("support request {id}"),
        json!({ "subject": request.subject }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the overview says of the server.
#[derive(Debug, serde::Serialize)]
pub struct Server {
    pub version: &'static str,
    pub database: &'static str,
    /// The schema version applied, and the one this binary migrates to.
    pub schema: Option<i64>,
    pub schema_binary: i64,
    /// Mails waiting to be sent.
    pub mail_queue: i64,
    /// This node's mail worker: `running`, `stalled`, `stopped` or
    /// `not_started`, and the seconds since it last ran.
    pub mail_worker: &'static str,
    pub mail_worker_alive: bool,
    pub mail_worker_last_run_secs: Option<u64>,
    /// The last warnings and errors this node logged, newest first.
    pub problems: Vec<crate::telemetry::Problem>,
}

/// What the operator's overview shows of this node: the same checks as
/// `/healthz/ready`, in words.
pub async fn server(app: &App) -> Result<Server> {
    let mail_queue = store::mail::pending(&mut *app.store.conn().await?).await?;
    let (schema, schema_binary) = app.store.schema_versions().await?;
    let worker = app.mail_worker.pulse().liveness(std::time::Instant::now());
    Ok(Server {
        version: env!("CARGO_PKG_VERSION"),
        database: match app.store.backend() {
            store::Backend::Sqlite => "SQLite",
            store::Backend::Postgres => "PostgreSQL",
        },
        schema,
        schema_binary,
        mail_queue,
        mail_worker: worker.state,
        mail_worker_alive: worker.alive,
        mail_worker_last_run_secs: worker.since_beat.map(|d| d.as_secs()),
        problems: crate::telemetry::recent_problems(),
    })
}

pub async fn audit_log(app: &App, before: &str) -> Result<Vec<ops::AuditRow>> {
    Ok(ops::audit_log(&mut *app.store.conn().await?, before, PAGE).await?)
}

/// The support request, as its sender sees it.
pub fn support_view(r: &ops::SupportRow) -> api::SupportRequest {
    api::SupportRequest {
        id: r.id.clone(),
        category: api::SupportCategory::parse(&r.category).unwrap_or(api::SupportCategory::Other),
        subject: r.subject.clone(),
        body: r.body.clone(),
        status: r.status.clone(),
        created_at: rfc3339(r.created_at),
        answer: r.answer.clone(),
        answered_at: r.answered_at.map(rfc3339),
    }
}
