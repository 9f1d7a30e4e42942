//! Team pages (T1-T6, T8, T9, A3): my teams and creating one, a team's home
//! (members, roles, seats, invites), discovery settings, join requests, the
//! audit log, the invite landing page that mailed and copied links open, and
//! "Join a team". Every page calls the same `domain::teams` function as the
//! JSON API; who may do what is decided there (`domain::policy`), so a
//! control hidden here is refused there too.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api;
use postroom_core::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::error_status;
use super::pages::enc;
use super::pages::{capitalise, flash, see_other, FormError, OrForm, Page, PageError, PageResult};
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
        .route("/teams/{slug}/delete", post(delete_team))
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

/// How a form shows a domain error: like [`FormError::from`], and also the
/// refusals a team page can explain (an unverified email, an admin that
/// cannot be demoted, an invite for another address...). `None` for what
/// gets an error page (404 for a team one may not see, 500s).
pub(super) fn problem(e: &Error) -> Option<FormError> {
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

pub(super) fn team_path(slug: &str, rest: &str) -> String {
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
pub(super) async fn team_page(
    app: &App,
    actor: &Actor,
    template: &'static str,
    team: &api::Team,
    section: &str,
    title: &str,
) -> Page {
    let admin = team.membership.role == Role::Admin;
    // Billing is shown to those the policy lets manage it (admins and the
    // billing role); to the others it does not exist.
    let billing = crate::domain::policy::decide(
        crate::domain::policy::Standing::Member(team.membership.role),
        crate::domain::policy::TeamAction::ManageBilling,
    )
    .is_ok();
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
        .with("billing_tab", billing)
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
        .with_errors(fe))
}

async fn list_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(
        list(&app, &signed, &CreateForm::default(), FormError::default())
            .await?
            .with("flash", flash(q.flash.as_deref()))
            .render(&app, &signed.session)
            .await,
    )
}

async fn create(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> PageResult {
    let req = api::CreateTeamRequest {
        name: form.name.clone(),
        slug: form.slug.clone(),
    };
    let team = teams::create(&app, signed.actor(), &req)
        .await
        .or_form_with(problem, &app, &signed.session, async |fe| {
            let fe = fe
                .labelled("slug", "URL name")
                .labelled("name", "Team name");
            list(&app, &signed, &form, fe).await
        })
        .await?;
    Ok(see_other(&format!(
        "{}?flash=team_created",
        team_path(&team.slug, "")
    )))
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

async fn home(app: &App, signed: &SignedIn, slug: &str, extra: HomeExtra) -> Result<Page, Error> {
    let actor = signed.actor();
    let team = teams::get(app, actor, slug).await?;
    let members = teams::members(app, actor, slug).await?;
    let admin = team.membership.role == Role::Admin;
    let invites = if admin {
        teams::invites(app, actor, slug).await?.invites
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
    Ok(team_page(
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
    .with_errors(extra.fe)
    .with("invite_email", extra.invite_email))
}

async fn home_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let extra = HomeExtra {
        flash: flash(q.flash.as_deref()),
        new_invite: q.invite,
        ..Default::default()
    };
    Ok(home(&app, &signed, &slug, extra)
        .await?
        .render(&app, &signed.session)
        .await)
}

/// The step of a form on the team home: its result, or the page again with
/// the error next to the form (`section`), or an error page.
async fn on_home<T>(
    result: Result<T, Error>,
    app: &App,
    signed: &SignedIn,
    slug: &str,
    section: &str,
    invite_email: &str,
) -> Result<T, PageError> {
    result
        .or_form_with(problem, app, &signed.session, async |fe| {
            let extra = HomeExtra {
                section: Some(section.to_owned()),
                fe,
                invite_email: invite_email.to_owned(),
                ..Default::default()
            };
            home(app, signed, slug, extra).await
        })
        .await
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
) -> PageResult {
    let req = api::UpdateTeamRequest {
        name: Some(form.name),
    };
    let result = teams::update(&app, signed.actor(), &slug, &req).await;
    let team = on_home(result, &app, &signed, &slug, "rename", "").await?;
    Ok(see_other(&format!(
        "{}?flash=team_renamed",
        team_path(&team.slug, "")
    )))
}

#[derive(Deserialize)]
struct DeleteForm {
    /// The "I understand" box.
    #[serde(default)]
    confirm: Option<String>,
}

async fn delete_team(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> PageResult {
    let result = match form.confirm {
        Some(_) => teams::delete(&app, signed.actor(), &slug).await,
        None => Err(Error::field(
            "confirm",
            "confirmation_required",
            "tick the box to confirm that the team is to be deleted",
        )),
    };
    on_home(result, &app, &signed, &slug, "delete", "").await?;
    Ok(see_other("/teams?flash=team_deleted"))
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
) -> PageResult {
    let by_link = form.kind == "link";
    let req = api::CreateInviteRequest {
        email: (!by_link).then(|| form.email.clone()),
    };
    let section = if by_link { "invite_link" } else { "invite" };
    let result = teams::invite(&app, signed.actor(), &slug, &req).await;
    let invite = on_home(result, &app, &signed, &slug, section, &form.email).await?;
    Ok(if by_link {
        see_other(&format!(
            "{}?flash=invite_link_created&invite={}#new-invite",
            team_path(&slug, ""),
            enc(&invite.id)
        ))
    } else {
        see_other(&format!("{}?flash=invite_sent", team_path(&slug, "")))
    })
}

async fn cancel_invite(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let result = teams::cancel_invite(&app, signed.actor(), &slug, &id).await;
    on_home(result, &app, &signed, &slug, "invites", "").await?;
    Ok(see_other(&format!(
        "{}?flash=invite_cancelled",
        team_path(&slug, "")
    )))
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
) -> PageResult {
    let (role, support_only) = match form.role.split_once(':') {
        Some((r, "support")) => (r, true),
        _ => (form.role.as_str(), false),
    };
    let Some(role) = Role::parse(role) else {
        return Ok(error_status(axum::http::StatusCode::BAD_REQUEST));
    };
    let req = api::SetRoleRequest { role, support_only };
    let result = teams::set_role(&app, signed.actor(), &slug, &user, &req).await;
    on_home(result, &app, &signed, &slug, &user, "").await?;
    Ok(see_other(&format!(
        "{}?flash=role_changed",
        team_path(&slug, "")
    )))
}

async fn remove_member(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let result = teams::remove_member(&app, signed.actor(), &slug, &user).await;
    on_home(result, &app, &signed, &slug, &user, "").await?;
    Ok(if user == signed.actor().user_id {
        see_other("/teams?flash=left_team")
    } else {
        see_other(&format!("{}?flash=member_removed", team_path(&slug, "")))
    })
}

async fn leave(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let me = signed.actor().user_id.clone();
    let result = teams::remove_member(&app, signed.actor(), &slug, &me).await;
    on_home(result, &app, &signed, &slug, "leave", "").await?;
    Ok(see_other("/teams?flash=left_team"))
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
    failed: Option<(&str, FormError)>,
    form: &DomainForm,
) -> Result<Page, Error> {
    let team = teams::get(app, signed.actor(), slug).await?;
    let domains = teams::domains(app, signed.actor(), slug).await?.domains;
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
    if let Some((section, fe)) = failed {
        page = page.with("failed", section).with_errors(fe);
    }
    Ok(page)
}

async fn discovery_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let flash_msg = flash(q.flash.as_deref());
    Ok(discovery(
        &app,
        &signed,
        &slug,
        flash_msg,
        None,
        &DomainForm::default(),
    )
    .await?
    .render(&app, &signed.session)
    .await)
}

/// The step of a form on the discovery page: its result, or the page again
/// with the error next to the form (`section`), or an error page.
async fn on_discovery<T>(
    result: Result<T, Error>,
    app: &App,
    signed: &SignedIn,
    slug: &str,
    section: &str,
    form: &DomainForm,
) -> Result<T, PageError> {
    result
        .or_form_with(problem, app, &signed.session, async |fe| {
            discovery(app, signed, slug, None, Some((section, fe)), form).await
        })
        .await
}

async fn add_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DomainForm>,
) -> PageResult {
    let req = api::AddDomainRequest {
        domain: form.domain.clone(),
    };
    let result = teams::add_domain(&app, signed.actor(), &slug, &req).await;
    on_discovery(result, &app, &signed, &slug, "add", &form).await?;
    Ok(see_other(&format!(
        "{}?flash=domain_added",
        team_path(&slug, "/discovery")
    )))
}

async fn verify_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let result = teams::verify_domain(&app, signed.actor(), &slug, &domain).await;
    let form = DomainForm::default();
    on_discovery(result, &app, &signed, &slug, &domain, &form).await?;
    Ok(see_other(&format!(
        "{}?flash=domain_verified",
        team_path(&slug, "/discovery")
    )))
}

async fn remove_domain(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, domain)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let result = teams::remove_domain(&app, signed.actor(), &slug, &domain).await;
    let form = DomainForm::default();
    on_discovery(result, &app, &signed, &slug, &domain, &form).await?;
    Ok(see_other(&format!(
        "{}?flash=domain_removed",
        team_path(&slug, "/discovery")
    )))
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
) -> PageResult {
    let enabled = form.enabled == "on";
    let req = api::SetDiscoveryRequest { enabled };
    let result = teams::set_discovery(&app, signed.actor(), &slug, &req).await;
    let form = DomainForm::default();
    on_discovery(result, &app, &signed, &slug, "discovery", &form).await?;
    Ok(see_other(&format!(
        "{}?flash={}",
        team_path(&slug, "/discovery"),
        if enabled {
            "discovery_on"
        } else {
            "discovery_off"
        }
    )))
}

// Join requests (T8).

async fn requests(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    flash_msg: Option<serde_json::Value>,
    failed: Option<FormError>,
) -> Result<Page, Error> {
    let team = teams::get(app, signed.actor(), slug).await?;
    let list = teams::join_requests(app, signed.actor(), slug)
        .await?
        .join_requests;
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
    if let Some(fe) = failed {
        page = page.with("error", fe.error);
    }
    Ok(page)
}

async fn requests_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(
        requests(&app, &signed, &slug, flash(q.flash.as_deref()), None)
            .await?
            .render(&app, &signed.session)
            .await,
    )
}

async fn decided(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    result: Result<(), Error>,
    key: &str,
) -> PageResult {
    result
        .or_form_with(problem, app, &signed.session, async |fe| {
            requests(app, signed, slug, None, Some(fe)).await
        })
        .await?;
    Ok(see_other(&format!(
        "{}?flash={key}",
        team_path(slug, "/requests")
    )))
}

async fn approve(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
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
) -> PageResult {
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
) -> PageResult {
    let actor = signed.actor();
    let team = teams::get(&app, actor, &slug).await?;
    let before = q.before.as_deref();
    let log = teams::audit_log(&app, actor, &slug, before, Some(AUDIT_PAGE)).await?;
    Ok(
        team_page(&app, actor, "team_audit.html", &team, "audit", "Audit log")
            .await
            .with("log", log)
            .with("older", q.before.is_some())
            .render(&app, &signed.session)
            .await,
    )
}

// Discovery for people: "Join a team" (T8, A3).

async fn join_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(join_view(&app, &signed)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

/// "Join a team": the teams discovery lists to me.
async fn join_view(app: &App, signed: &SignedIn) -> Result<Page, Error> {
    let list = teams::discoverable(app, signed.actor()).await?;
    Ok(Page::new("team_join.html", "Join a team")
        .with("nav", "teams")
        .with("discoverable", list.teams))
}

async fn ask_to_join(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    teams::request_to_join(&app, signed.actor(), &slug)
        .await
        .or_form_with(problem, &app, &signed.session, async |fe| {
            Ok(join_view(&app, &signed).await?.with("error", fe.error))
        })
        .await?;
    Ok(see_other("/teams/join?flash=join_requested"))
}

// The invite landing page (T3, T4): the link mailed and copied.

#[derive(Deserialize, Default)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

/// The invite page for `token`: what it is for, and how to accept it.
async fn invite_view(app: &App, token: &str, failed: Option<FormError>) -> Result<Page, Error> {
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
            None => return Err(e),
        },
    }
    if let Some(fe) = failed {
        page = page.with("error", fe.error);
    }
    Ok(page)
}

async fn invite_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<TokenForm>,
) -> PageResult {
    Ok(invite_view(&app, &q.token, None)
        .await?
        .render(&app, &session)
        .await)
}

async fn accept_invite(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let team = teams::accept_invite(&app, signed.actor(), &form.token)
        .await
        .or_form_with(problem, &app, &signed.session, async |fe| {
            invite_view(&app, &form.token, Some(fe)).await
        })
        .await?;
    Ok(see_other(&format!(
        "{}?flash=joined_team",
        team_path(&team.slug, "")
    )))
}
