//! The operator pages under `/admin` (O7, P10): an overview of the server,
//! users (search, create, disable, enable, sign out everywhere, delete),
//! teams, support requests (answer, close) and the operator's audit log.
//!
//! Only operators see them (to anyone else they do not exist: 404), and
//! only after their session proved the password again within the last 15
//! minutes; the pages call `domain::operator` like the command line does.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{flash, local_next, see_other, OrForm, Page, PageError, PageResult};
use super::session::{CsrfForm, SignedIn};
use crate::clock::rfc3339;
use crate::domain::operator::{self, Access, By, PAGE};
use crate::error::Error;
use crate::state::App;
use crate::store;

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/confirm", post(confirm))
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}", get(user))
        .route("/admin/users/{id}/{action}", post(user_action))
        .route("/admin/teams", get(teams))
        .route("/admin/teams/{slug}/plan", post(set_plan))
        .route("/admin/support", get(support))
        .route("/admin/support/{id}", get(support_request))
        .route("/admin/support/{id}/answer", post(answer))
        .route("/admin/support/{id}/close", post(close))
        .route("/admin/audit", get(audit))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    before: Option<String>,
    status: Option<String>,
    flash: Option<String>,
}

/// The operator, or the page to show instead: the password check (for a
/// page), a way back to it (for a form), or 404 for anyone else.
async fn operator(app: &App, signed: &SignedIn, here: &str, form: bool) -> Result<By, PageError> {
    match operator::access(app, signed.actor()).await? {
        Access::Open(by) => Ok(by),
        Access::Closed => Err(Error::NotFound { what: "page" }.into()),
        Access::Confirm if form => Err(PageError::Shown(see_other("/admin"))),
        Access::Confirm => Err(PageError::Shown(
            confirm_page(here).render(app, &signed.session).await,
        )),
    }
}

fn confirm_page(next: &str) -> Page {
    Page::new("admin_confirm.html", "Operator pages").with("next", next)
}

/// A page of the console, with what every one shows.
async fn admin_page(
    app: &App,
    template: &'static str,
    title: &str,
    section: &str,
) -> Result<Page, Error> {
    let open = operator::count_support(app, "open").await?;
    Ok(Page::new(template, title)
        .with("section", section)
        .with("nav", "admin")
        .with("open_support", open))
}

#[derive(Serialize)]
struct AuditLine {
    operator: String,
    action: String,
    target: String,
    detail: String,
    at: String,
}

fn audit_lines(rows: &[store::operator::AuditRow]) -> Vec<AuditLine> {
    rows.iter()
        .map(|a| AuditLine {
            operator: a.operator.clone(),
            action: a.action.replace('_', " "),
            target: a.target.clone(),
            detail: a.detail.clone(),
            at: rfc3339(a.created_at),
        })
        .collect()
}

async fn overview(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> PageResult {
    operator(&app, &signed, "/admin", false).await?;
    let server = operator::server(&app).await?;
    let recent = operator::audit_log(&app, "").await?;
    Ok(admin_page(&app, "admin_home.html", "Operator", "overview")
        .await?
        .with("server", server)
        .with("audit", audit_lines(&recent[..recent.len().min(10)]))
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn confirm(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> PageResult {
    let next = local_next(form.next.as_deref())
        .filter(|n| n.starts_with("/admin"))
        .unwrap_or_else(|| "/admin".to_owned());
    if let Access::Closed = operator::access(&app, signed.actor()).await? {
        return Err(Error::NotFound { what: "page" }.into());
    }
    operator::confirm(&app, signed.actor(), &form.password)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(confirm_page(&next).with_errors(fe))
        })
        .await?;
    Ok(see_other(&next))
}

#[derive(Serialize)]
struct UserLine {
    id: String,
    username: String,
    email: String,
    verified: bool,
    operator: bool,
    disabled: bool,
    disabled_at: Option<String>,
    created_at: String,
    last_active_at: Option<String>,
    teams: i64,
    two_factor: bool,
}

fn user_line(app: &App, u: &store::operator::AccountRow) -> UserLine {
    UserLine {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        verified: u.email_verified_at.is_some(),
        operator: u.operator != 0 || operator::named_operator(app, &u.email, u.email_verified_at),
        disabled: u.disabled_at.is_some(),
        disabled_at: u.disabled_at.map(rfc3339),
        created_at: rfc3339(u.created_at),
        last_active_at: u.last_active_at.map(rfc3339),
        teams: u.teams,
        two_factor: u.two_factor != 0,
    }
}

#[derive(Deserialize, Serialize, Default)]
struct CreateForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    operator: Option<String>,
}

async fn users_page(app: &App, q: &ListQuery, form: &CreateForm) -> Result<Page, Error> {
    let search = q.q.clone().unwrap_or_default();
    let rows = operator::accounts(app, &search, q.after.as_deref().unwrap_or_default()).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let lines: Vec<UserLine> = rows.iter().map(|u| user_line(app, u)).collect();
    Ok(admin_page(app, "admin_users.html", "Users", "users")
        .await?
        .with("users", lines)
        .with("q", search)
        .with("next", next)
        .with("form", form)
        .with("flash", flash(q.flash.as_deref())))
}

async fn users(State(app): State<App>, signed: SignedIn, Query(q): Query<ListQuery>) -> PageResult {
    operator(&app, &signed, "/admin/users", false).await?;
    Ok(users_page(&app, &q, &CreateForm::default())
        .await?
        .render(&app, &signed.session)
        .await)
}

async fn create_user(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> PageResult {
    let by = operator(&app, &signed, "/admin/users", true).await?;
    let user = operator::create_account(
        &app,
        &by,
        &form.email,
        &form.username,
        form.operator.is_some(),
    )
    .await
    .or_form(&app, &signed.session, async |fe| {
        Ok(users_page(&app, &ListQuery::default(), &form)
            .await?
            .with_errors(fe))
    })
    .await?;
    Ok(see_other(&format!(
        "/admin/users/{}?flash=user_created",
        user.id
    )))
}

async fn user_page(app: &App, id: &str) -> Result<Page, Error> {
    let (row, teams) = operator::account(app, id).await?;
    let teams: Vec<_> = teams
        .iter()
        .map(|t| json!({"name": t.team.name, "slug": t.team.slug, "role": t.role}))
        .collect();
    Ok(
        admin_page(app, "admin_user.html", &row.username.clone(), "users")
            .await?
            .with("user", user_line(app, &row))
            .with("teams", teams),
    )
}

async fn user(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    operator(&app, &signed, &format!("/admin/users/{id}"), false).await?;
    Ok(user_page(&app, &id)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct ActionForm {
    confirm: Option<String>,
}

async fn user_action(
    State(app): State<App>,
    signed: SignedIn,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> PageResult {
    let by = operator(&app, &signed, "/admin/users", true).await?;
    let show = async |fe| Ok(user_page(&app, &id).await?.with_errors(fe));
    let done = match action.as_str() {
        "disable" => operator::set_disabled(&app, &by, &id, true)
            .await
            .map(|_| "user_disabled"),
        "enable" => operator::set_disabled(&app, &by, &id, false)
            .await
            .map(|_| "user_enabled"),
        "sign-out" => operator::sign_out_everywhere(&app, &by, &id)
            .await
            .map(|_| "user_signed_out"),
        "two-step-off" => operator::turn_off_two_factor(&app, &by, &id)
            .await
            .map(|_| "user_two_factor_off"),
        "delete" => {
            let (row, _) = operator::account(&app, &id).await?;
            if form.confirm.as_deref() != Some(row.username.as_str()) {
                Err(Error::bad_request(
                    "confirmation_required",
                    "tick the box to confirm the deletion",
                ))
            } else {
                operator::delete(&app, &by, &id)
                    .await
                    .map(|_| "user_deleted")
            }
        }
        _ => return Err(Error::NotFound { what: "page" }.into()),
    };
    let flash_key = done.or_form(&app, &signed.session, show).await?;
    Ok(see_other(&if flash_key == "user_deleted" {
        format!("/admin/users?flash={flash_key}")
    } else {
        format!("/admin/users/{id}?flash={flash_key}")
    }))
}

async fn teams(State(app): State<App>, signed: SignedIn, Query(q): Query<ListQuery>) -> PageResult {
    operator(&app, &signed, "/admin/teams", false).await?;
    Ok(teams_page(&app, q.after.as_deref().unwrap_or_default())
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    seats: String,
}

/// Puts a team on a plan, without payment (O7).
async fn set_plan(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<PlanForm>,
) -> PageResult {
    let by = operator(&app, &signed, "/admin/teams", true).await?;
    let seats = match form.seats.trim() {
        "" => Ok(None),
        s => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::field("seats", "invalid_seats", "seats must be a whole number")),
    };
    let result = match seats {
        Ok(seats) => operator::set_plan(&app, &by, &slug, &form.plan, seats).await,
        Err(e) => Err(e),
    };
    result
        .or_form(&app, &signed.session, async |fe| {
            Ok(teams_page(&app, "").await?.with_errors(fe))
        })
        .await?;
    Ok(see_other("/admin/teams?flash=plan_set"))
}

async fn teams_page(app: &App, after: &str) -> Result<Page, Error> {
    let rows = operator::teams(app, after).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let lines: Vec<_> = rows
        .iter()
        .map(|t| {
            json!({"name": t.name, "slug": t.slug, "plan": t.plan, "members": t.members, "seats": t.seats,
                   "created_at": rfc3339(t.created_at)})
        })
        .collect();
    Ok(admin_page(app, "admin_teams.html", "Teams", "teams")
        .await?
        .with("teams", lines)
        .with("billing_on", app.payments().is_some())
        .with(
            "plans",
            crate::domain::plans::ALL
                .iter()
                .map(|p| (p.id, p.name))
                .collect::<Vec<_>>(),
        )
        .with("next", next))
}

fn support_line(r: &store::operator::SupportRow) -> serde_json::Value {
    json!({"id": r.id, "user_id": r.user_id, "username": r.username, "email": r.email,
           "category": r.category, "subject": r.subject, "body": r.body, "status": r.status,
           "answer": r.answer, "answered_at": r.answered_at.map(rfc3339),
           "created_at": rfc3339(r.created_at)})
}

async fn support(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> PageResult {
    operator(&app, &signed, "/admin/support", false).await?;
    let status = q.status.clone().unwrap_or_else(|| "open".to_owned());
    let rows = operator::support(&app, &status, q.before.as_deref().unwrap_or_default()).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let lines: Vec<_> = rows.iter().map(support_line).collect();
    Ok(
        admin_page(&app, "admin_support.html", "Support requests", "support")
            .await?
            .with("requests", lines)
            .with("status", status)
            .with("next", next)
            .render(&app, &signed.session)
            .await,
    )
}

#[derive(Deserialize, Serialize, Default)]
struct AnswerForm {
    #[serde(default)]
    answer: String,
}

async fn support_page(app: &App, id: &str, form: &AnswerForm) -> Result<Page, Error> {
    let request = operator::support_request(app, id).await?;
    Ok(admin_page(
        app,
        "admin_support_request.html",
        &request.subject.clone(),
        "support",
    )
    .await?
    .with("request", support_line(&request))
    .with("form", form))
}

async fn support_request(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    operator(&app, &signed, &format!("/admin/support/{id}"), false).await?;
    Ok(support_page(&app, &id, &AnswerForm::default())
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

async fn answer(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> PageResult {
    let by = operator(&app, &signed, "/admin/support", true).await?;
    // Browsers send a textarea's line breaks as CRLF.
    let text = form.answer.replace("\r\n", "\n");
    operator::answer(&app, &by, &id, &text)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(support_page(&app, &id, &form).await?.with_errors(fe))
        })
        .await?;
    Ok(see_other(&format!(
        "/admin/support/{id}?flash=support_answered"
    )))
}

async fn close(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<ActionForm>,
) -> PageResult {
    let by = operator(&app, &signed, "/admin/support", true).await?;
    operator::close(&app, &by, &id).await?;
    Ok(see_other(&format!(
        "/admin/support/{id}?flash=support_closed"
    )))
}

async fn audit(State(app): State<App>, signed: SignedIn, Query(q): Query<ListQuery>) -> PageResult {
    operator(&app, &signed, "/admin/audit", false).await?;
    let rows = operator::audit_log(&app, q.before.as_deref().unwrap_or_default()).await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(
        admin_page(&app, "admin_audit.html", "Operator audit log", "audit")
            .await?
            .with("audit", audit_lines(&rows))
            .with("next", next)
            .render(&app, &signed.session)
            .await,
    )
}
