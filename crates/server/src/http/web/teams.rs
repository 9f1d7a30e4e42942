//! Team pages (T1-T6, T8, T9, A3): my teams and creating one, a team's home
//! (members, roles, seats, invites), discovery settings, join requests, the
//! audit log, the invite landing page that mailed and copied links open, and
//! "Join a team". Every page calls the same `domain::teams` function as the
//! JSON API; who may do what is decided there (`domain::policy`), so a
//! control hidden here is refused there too.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api;
use postroom_core::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::error_response;
use super::pages::{capitalise, flash, see_other, FormError, Page};
use super::session::{CsrfForm, SignedIn, WebSession};
use crate::domain::actor::Actor;
use crate::domain::teams;
use crate::error::Error;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/teams", get(list_page).post(create))
        .route("/teams/join", get(join_page))
        .route("/teams/{slug}", get(home_page))
        .route("/teams/{slug}/rename", post(rename))
        .route("/teams/{slug}/invites", post(invite))
        .route("/teams/{slug}/invites/{id}/cancel", post(cancel_invite))
        .route("/teams/{slug}/members/{user}/role", post(set_role))
        .route("/teams/{slug}/members/{user}/remove", post(remove_member))
        .route("/teams/{slug}/leave", post(leave))
        .route("/teams/{slug}/ask", post(ask_to_join))
        .route(
            "/teams/{slug}/discovery",
            get(discovery_page).post(set_discovery),
        )
        .route("/teams/{slug}/domains", post(add_domain))
        .route("/teams/{slug}/domains/{domain}/verify", post(verify_domain))
        .route("/teams/{slug}/domains/{domain}/remove", post(remove_domain))
        .route("/teams/{slug}/requests", get(requests_page))
        .route("/teams/{slug}/requests/{id}/approve", post(approve))
        .route("/teams/{slug}/requests/{id}/decline", post(decline))
        .route("/teams/{slug}/audit", get(audit_page))
        .route("/invite", get(invite_page))
        .route("/invite/accept", post(accept_invite))
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
    /// The invite just created, shown with its link on the team home.
    invite: Option<String>,
}

#[derive(Deserialize)]
struct Nothing {}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// How a form shows a domain error: like [`FormError::from`], and also the
/// refusals a team page can explain (an unverified email, an admin that
/// cannot be demoted, an invite for another address...). `None` for what
/// gets an error page (404 for a team one may not see, 500s).
fn problem(e: &Error) -> Option<FormError> {
    if let Some(fe) = FormError::from(e) {
        return Some(fe);
    }
    match e {
        Error::Forbidden { message, .. } => Some(FormError {
            error: Some(capitalise(message)),
            ..Default::default()
        }),
        _ => None,
    }
}

fn team_path(slug: &str, rest: &str) -> String {
    format!("/teams/{}{rest}", enc(slug))
}

/// A person as the team pages show them: with the initial their avatar
/// falls back to, and the avatar's address on this server.
fn person(app: &App, user: &api::TeamUser) -> serde_json::Value {
    let mut v = serde_json::to_value(user).unwrap_or_default();
    v["initial"] = json!(super::pages::initial(
        user.display_name.as_deref().unwrap_or(&user.username)
    ));
    v["avatar_url"] = json!(user
        .avatar_url
        .as_deref()
        .map(|u| super::pages::local_avatar_url(app, u)));
    v
}

/// The pages of one team share a header and a side menu (`team_base.html`);
/// admins see there how many join requests wait for them.
async fn team_page(
    app: &App,
    actor: &Actor,
    template: &'static str,
    team: &api::Team,
    section: &str,
    title: &str,
) -> Page {
    let admin = team.membership.role == Role::Admin;
    let waiting = if admin {
        teams::waiting_join_requests(app, actor, &team.slug)
            .await
            .unwrap_or(0)
    } else {
        0
    };
    Page::new(template, format!("{title} · {}", team.name))
        .with("nav", "teams")
        .with("team", team)
        .with("admin", admin)
        .with("section", section)
        .with("waiting_requests", waiting)
}

// My teams, and creating one (T1).

#[derive(Deserialize, Serialize, Default)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
}

/// The teams page. A list that cannot be read is an error page, never an
/// empty list that would look like "no teams".
async fn list(
    app: &App,
    signed: &SignedIn,
    form: &CreateForm,
    fe: FormError,
) -> Result<Page, Error> {
    let mine = teams::list_mine(app, signed.actor()).await?;
    let discoverable = teams::discoverable(app, signed.actor()).await?;
    Ok(Page::new("team_list.html", "Teams")
        .with("nav", "teams")
        .with("teams", mine.teams)
        .with("discoverable", discoverable.teams)
        .with("form", form)
        .with("error", fe.error)
        .with("errors", fe.errors))
}

async fn list_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> Response {
    match list(&app, &signed, &CreateForm::default(), FormError::default()).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn create(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let req = api::CreateTeamRequest {
        name: form.name.clone(),
        slug: form.slug.clone(),
    };
    match teams::create(&app, signed.actor(), &req).await {
        Ok(team) => see_other(&format!("{}?flash=team_created", team_path(&team.slug, ""))),
        Err(e) => match problem(&e) {
            Some(fe) => match list(&app, &signed, &form, fe).await {
                Ok(page) => page.status(e.status()).render(&app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

// A team's home: members, roles, seats and invites (T2-T6).

/// What a failed form on the team home shows besides the page.
#[derive(Default)]
struct HomeExtra {
    flash: Option<serde_json::Value>,
    new_invite: Option<String>,
    /// Which form failed: `invite`, `rename`, or a member's id.
    section: Option<String>,
    fe: FormError,
    invite_email: String,
    status: Option<axum::http::StatusCode>,
}

/// The role choices of the role control: a role, and whether it is held
/// alone without a seat (support only).
const ROLE_CHOICES: &[(&str, &str)] = &[
    ("member", "Member"),
    ("billing", "Billing"),
    ("admin", "Admin"),
    ("billing:support", "Billing, support only (no seat)"),
    ("admin:support", "Admin, support only (no seat)"),
];

fn role_choice(role: Role, support_only: bool) -> String {
    if support_only {
        format!("{}:support", role.as_str())
    } else {
        role.as_str().to_owned()
    }
}

async fn home(app: &App, signed: &SignedIn, slug: &str, extra: HomeExtra) -> Response {
    let actor = signed.actor();
    let team = match teams::get(app, actor, slug).await {
        Ok(t) => t,
        Err(e) => return error_response(e),
    };
    let members = match teams::members(app, actor, slug).await {
        Ok(m) => m,
        Err(e) => return error_response(e),
    };
    let admin = team.membership.role == Role::Admin;
    let invites = if admin {
        match teams::invites(app, actor, slug).await {
            Ok(l) => l.invites,
            Err(e) => return error_response(e),
        }
    } else {
        Vec::new()
    };
    let new_invite = extra
        .new_invite
        .as_deref()
        .and_then(|id| invites.iter().find(|i| i.id == id))
        .cloned();
    let members: Vec<serde_json::Value> = members
        .members
        .iter()
        .map(|m| {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            v["me"] = json!(m.user.id == actor.user_id);
            v["choice"] = json!(role_choice(m.role, m.support_only));
            v["user"] = person(app, &m.user);
            v["initial"] = v["user"]["initial"].clone();
            v
        })
        .collect();
    let mut page = team_page(
        app,
        signed.actor(),
        "team_home.html",
        &team,
        "members",
        "Members",
    )
    .await
    .with("members", members)
    .with("seats", &team.seats)
    .with("invites", &invites)
    .with("new_invite", new_invite)
    .with(
        "role_choices",
        ROLE_CHOICES
            .iter()
            .map(|(v, l)| json!({ "value": v, "label": l }))
            .collect::<Vec<_>>(),
    )
    .with("flash", extra.flash)
    .with("failed", extra.section)
    .with("error", extra.fe.error)
    .with("errors", extra.fe.errors)
    .with("invite_email", extra.invite_email);
    if let Some(status) = extra.status {
        page = page.status(status);
    }
    page.render(app, &signed.session).await
}

async fn home_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let extra = HomeExtra {
        flash: flash(q.flash.as_deref()),
        new_invite: q.invite,
        ..Default::default()
    };
    home(&app, &signed, &slug, extra).await
}

/// After a failed form on the team home: the page again with the error
/// next to the form (`section`), or an error page.
async fn home_failed(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    section: &str,
    e: Error,
    invite_email: String,
) -> Response {
    match problem(&e) {
        Some(fe) => {
            let extra = HomeExtra {
                section: Some(section.to_owned()),
                status: Some(e.status()),
                fe,
                invite_email,
                ..Default::default()
            };
            home(app, signed, slug, extra).await
        }
        None => error_response(e),
    }
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<RenameForm>,
) -> Response {
    let req = api::UpdateTeamRequest {
        name: Some(form.name),
    };
    match teams::update(&app, signed.actor(), &slug, &req).await {
        Ok(team) => see_other(&format!("{}?flash=team_renamed", team_path(&team.slug, ""))),
        Err(e) => home_failed(&app, &signed, &slug, "rename", e, String::new()).await,
    }
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    /// `email` (the default) or `link`.
    #[serde(default)]
    kind: String,
}

async fn invite(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Response {
    let by_link = form.kind == "link";
    let req = api::CreateInviteRequest {
        email: (!by_link).then(|| form.email.clone()),
    };
    match teams::invite(&app, signed.actor(), &slug, &req).await {
        Ok(i) if by_link => see_other(&format!(
            "{}?flash=invite_link_created&invite={}#new-invite",
            team_path(&slug, ""),
            enc(&i.id)
        )),
        Ok(_) => see_other(&format!("{}?flash=invite_sent", team_path(&slug, ""))),
        Err(e) => {
            let section = if by_link { "invite_link" } else { "invite" };
            home_failed(&app, &signed, &slug, section, e, form.email).await
        }
    }
}

async fn cancel_invite(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match teams::cancel_invite(&app, signed.actor(), &slug, &id).await {
        Ok(()) => see_other(&format!("{}?flash=invite_cancelled", team_path(&slug, ""))),
        Err(e) => home_failed(&app, &signed, &slug, "invites", e, String::new()).await,
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, user)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Response {
    let (role, support_only) = match form.role.split_once(':') {
        Some((r, "support")) => (r, true),
        _ => (form.role.as_str(), false),
    };
    let Some(role) = Role::parse(role) else {
        return super::errors::error_status(axum::http::StatusCode::BAD_REQUEST);
    };
    let req = api::SetRoleRequest { role, support_only };
    match teams::set_role(&app, signed.actor(), &slug, &user, &req).await {
        Ok(_) => see_other(&format!("{}?flash=role_changed", team_path(&slug, ""))),
        Err(e) => home_failed(&app, &signed, &slug, &user, e, String::new()).await,
    }
}

async fn remove_member(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match teams::remove_member(&app, signed.actor(), &slug, &user).await {
        Ok(()) if user == signed.actor().user_id => see_other("/teams?flash=left_team"),
        Ok(()) => see_other(&format!("{}?flash=member_removed", team_path(&slug, ""))),
        Err(e) => home_failed(&app, &signed, &slug, &user, e, String::new()).await,
    }
}

async fn leave(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    let me = signed.actor().user_id.clone();
    match teams::remove_member(&app, signed.actor(), &slug, &me).await {
        Ok(()) => see_other("/teams?flash=left_team"),
        Err(e) => home_failed(&app, &signed, &slug, "leave", e, String::new()).await,
    }
}

// Domains and discovery (T8).

#[derive(Deserialize, Serialize, Default)]
struct DomainForm {
    #[serde(default)]
    domain: String,
}

async fn discovery(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    flash_msg: Option<serde_json::Value>,
    failed: Option<(&str, FormError, axum::http::StatusCode)>,
    form: &DomainForm,
) -> Response {
    let team = match teams::get(app, signed.actor(), slug).await {
        Ok(t) => t,
        Err(e) => return error_response(e),
    };
    let domains = match teams::domains(app, signed.actor(), slug).await {
        Ok(d) => d.domains,
        Err(e) => return error_response(e),
    };
    let verified = domains.iter().any(|d| d.verified);
    let mut page = team_page(
        app,
        signed.actor(),
        "team_discovery.html",
        &team,
        "discovery",
        "Discovery",
    )
    .await
    .with("domains", &domains)
    .with("any_verified", verified)
    .with("form", form)
    .with("flash", flash_msg);
    if let Some((section, fe, status)) = failed {
        page = page
            .with("failed", section)
            .with("error", fe.error)
            .with("errors", fe.errors)
            .status(status);
    }
    page.render(app, &signed.session).await
}

async fn discovery_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Response {
    discovery(
        &app,
        &signed,
        &slug,
        flash(q.flash.as_deref()),
        None,
        &DomainForm::default(),
    )
    .await
}

async fn discovery_failed(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    section: &str,
    e: Error,
    form: &DomainForm,
) -> Response {
    match problem(&e) {
        Some(fe) => {
            discovery(
                app,
                signed,
                slug,
                None,
                Some((section, fe, e.status())),
                form,
            )
            .await
        }
        None => error_response(e),
    }
}

async fn add_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DomainForm>,
) -> Response {
    let req = api::AddDomainRequest {
        domain: form.domain.clone(),
    };
    match teams::add_domain(&app, signed.actor(), &slug, &req).await {
        Ok(_) => see_other(&format!(
            "{}?flash=domain_added",
            team_path(&slug, "/discovery")
        )),
        Err(e) => discovery_failed(&app, &signed, &slug, "add", e, &form).await,
    }
}

async fn verify_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match teams::verify_domain(&app, signed.actor(), &slug, &domain).await {
        Ok(_) => see_other(&format!(
            "{}?flash=domain_verified",
            team_path(&slug, "/discovery")
        )),
        Err(e) => discovery_failed(&app, &signed, &slug, &domain, e, &DomainForm::default()).await,
    }
}

async fn remove_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match teams::remove_domain(&app, signed.actor(), &slug, &domain).await {
        Ok(()) => see_other(&format!(
            "{}?flash=domain_removed",
            team_path(&slug, "/discovery")
        )),
        Err(e) => discovery_failed(&app, &signed, &slug, &domain, e, &DomainForm::default()).await,
    }
}

#[derive(Deserialize)]
struct DiscoveryForm {
    #[serde(default)]
    enabled: String,
}

async fn set_discovery(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DiscoveryForm>,
) -> Response {
    let enabled = form.enabled == "on";
    let req = api::SetDiscoveryRequest { enabled };
    match teams::set_discovery(&app, signed.actor(), &slug, &req).await {
        Ok(_) => see_other(&format!(
            "{}?flash={}",
            team_path(&slug, "/discovery"),
            if enabled {
                "discovery_on"
            } else {
                "discovery_off"
            }
        )),
        Err(e) => {
            discovery_failed(&app, &signed, &slug, "discovery", e, &DomainForm::default()).await
        }
    }
}

// Join requests (T8).

async fn requests(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    flash_msg: Option<serde_json::Value>,
    failed: Option<(FormError, axum::http::StatusCode)>,
) -> Response {
    let team = match teams::get(app, signed.actor(), slug).await {
        Ok(t) => t,
        Err(e) => return error_response(e),
    };
    let list = match teams::join_requests(app, signed.actor(), slug).await {
        Ok(l) => l.join_requests,
        Err(e) => return error_response(e),
    };
    let list: Vec<serde_json::Value> = list
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["user"] = person(app, &r.user);
            v
        })
        .collect();
    let mut page = team_page(
        app,
        signed.actor(),
        "team_requests.html",
        &team,
        "requests",
        "Join requests",
    )
    .await
    .with("join_requests", &list)
    .with("flash", flash_msg);
    if let Some((fe, status)) = failed {
        page = page.with("error", fe.error).status(status);
    }
    page.render(app, &signed.session).await
}

async fn requests_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Response {
    requests(&app, &signed, &slug, flash(q.flash.as_deref()), None).await
}

async fn decided(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    result: Result<(), Error>,
    key: &str,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("{}?flash={key}", team_path(slug, "/requests"))),
        Err(e) => match problem(&e) {
            Some(fe) => requests(app, signed, slug, None, Some((fe, e.status()))).await,
            None => error_response(e),
        },
    }
}

async fn approve(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    let r = teams::approve_join_request(&app, signed.actor(), &slug, &id)
        .await
        .map(|_| ());
    decided(&app, &signed, &slug, r, "request_approved").await
}

async fn decline(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    let r = teams::decline_join_request(&app, signed.actor(), &slug, &id)
        .await
        .map(|_| ());
    decided(&app, &signed, &slug, r, "request_declined").await
}

// The audit log (T9).

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

const AUDIT_PAGE: i64 = 25;

async fn audit_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let team = match teams::get(&app, signed.actor(), &slug).await {
        Ok(t) => t,
        Err(e) => return error_response(e),
    };
    match teams::audit_log(
        &app,
        signed.actor(),
        &slug,
        q.before.as_deref(),
        Some(AUDIT_PAGE),
    )
    .await
    {
        Ok(log) => {
            team_page(
                &app,
                signed.actor(),
                "team_audit.html",
                &team,
                "audit",
                "Audit log",
            )
            .await
            .with("log", log)
            .with("older", q.before.is_some())
            .render(&app, &signed.session)
            .await
        }
        Err(e) => error_response(e),
    }
}

// Discovery for people: "Join a team" (T8, A3).

async fn join_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> Response {
    match teams::discoverable(&app, signed.actor()).await {
        Ok(list) => {
            Page::new("team_join.html", "Join a team")
                .with("nav", "teams")
                .with("discoverable", list.teams)
                .with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn ask_to_join(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match teams::request_to_join(&app, signed.actor(), &slug).await {
        Ok(_) => see_other("/teams/join?flash=join_requested"),
        Err(e) => match (problem(&e), teams::discoverable(&app, signed.actor()).await) {
            (Some(fe), Ok(list)) => {
                Page::new("team_join.html", "Join a team")
                    .with("nav", "teams")
                    .with("discoverable", list.teams)
                    .with("error", fe.error)
                    .status(e.status())
                    .render(&app, &signed.session)
                    .await
            }
            _ => error_response(e),
        },
    }
}

// The invite landing page (T3, T4): the link mailed and copied.

#[derive(Deserialize, Default)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

/// The invite page for `token`: what it is for, and how to accept it.
async fn invite_view(
    app: &App,
    session: &WebSession,
    token: &str,
    failed: Option<(FormError, axum::http::StatusCode)>,
) -> Response {
    let back = format!("/invite?token={}", enc(token));
    let mut page = Page::new("team_invite.html", "Team invite")
        .with("narrow", true)
        .with("token", token)
        .with("next", enc(&back));
    match teams::preview_invite(app, token).await {
        Ok(preview) => page = page.with("invite", preview),
        Err(e) => match problem(&e) {
            Some(fe) => page = page.with("invalid", fe.error).status(e.status()),
            None if matches!(e, Error::NotFound { .. }) => {
                page = page
                    .with(
                        "invalid",
                        "This invite link is not valid. Check that you copied all of it, or ask the team for a new one.",
                    )
                    .status(e.status())
            }
            None => return error_response(e),
        },
    }
    if let Some((fe, status)) = failed {
        page = page.with("error", fe.error).status(status);
    }
    page.render(app, session).await
}

async fn invite_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<TokenForm>,
) -> Response {
    invite_view(&app, &session, &q.token, None).await
}

async fn accept_invite(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> Response {
    match teams::accept_invite(&app, signed.actor(), &form.token).await {
        Ok(team) => see_other(&format!("{}?flash=joined_team", team_path(&team.slug, ""))),
        Err(e) => match problem(&e) {
            Some(fe) => {
                let status = e.status();
                invite_view(&app, &signed.session, &form.token, Some((fe, status))).await
            }
            None => error_response(e),
        },
    }
}
