//! Home, notifications, support and public profiles.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use postroom_core::api::{self, SupportCategory};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{flash, initial, local_avatar_url, see_other, OrForm, Page, PageResult};
use super::session::{CsrfForm, SignedIn, WebSession};
use crate::domain::actor::Actor;
use crate::domain::workspace::feed;
use crate::domain::{accounts, api_keys, profile, support, teams};
use crate::error::Error;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/notifications", get(notifications))
        .route("/notifications/read", axum::routing::post(mark_read))
        .route("/support", get(support_page).post(send_support))
        .route("/u/{username}", get(public_profile))
        .route("/avatars/{id}", get(avatar))
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

#[derive(Deserialize)]
struct HomeQuery {
    flash: Option<String>,
    /// A page of the activity feed: `next` of the one before.
    before: Option<String>,
}

/// Home: the person's teams, their recent activity, the activity feed and
/// the next useful step. What cannot be read is an error page, never an
/// empty list.
async fn home(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<HomeQuery>,
) -> PageResult {
    let Some(account) = session.active() else {
        return Ok(Page::new("landing.html", "Welcome")
            .render(&app, &session)
            .await);
    };
    let actor = &account.actor;
    if let Ok(true) = profile::needs_onboarding(&app, actor).await {
        return Ok(see_other("/welcome"));
    }
    let user = accounts::current_user(&app, &actor.user_id).await?;
    let mine = teams::list_mine(&app, actor).await?.teams;
    let activity = profile::notifications(&app, actor, None, Some(HOME_ACTIVITY)).await?;
    let has_key = !api_keys::list(&app, actor).await?.api_keys.is_empty();
    let next = next_step(user.email_verified_at.is_some(), !mine.is_empty(), has_key);
    let page = Page::new("home.html", "Home")
        .with("nav", "home")
        .with("teams", mine)
        .with("activity", activity.notifications)
        .with("more_activity", activity.next_cursor.is_some())
        .with("next_step", next)
        .with("flash", flash(q.flash.as_deref()));
    Ok(with_feed(&app, actor, page, q.before)
        .await
        .render(&app, &session)
        .await)
}

/// How many notifications Home lists.
const HOME_ACTIVITY: i64 = 5;

/// The next useful thing to do, in order: confirm the address (teams and
/// API keys need it), be in a team, connect an API client.
fn next_step(verified: bool, in_a_team: bool, has_key: bool) -> Option<serde_json::Value> {
    let (title, text, href, action) = if !verified {
        (
            "Confirm your email address",
            "Open the link we mailed you. Teams and API keys need a confirmed address.",
            "/check-email",
            "Send the link again",
        )
    } else if !in_a_team {
        (
            "Work with your team",
            "Create a team and invite the people you build with, or join your organisation's.",
            "/teams",
            "Go to Teams",
        )
    } else if !has_key {
        (
            "Connect your API client",
            "Create a personal API key and give it to your client or scripts as X-Api-Key.",
            "/settings/api-keys",
            "Create an API key",
        )
    } else {
        return None;
    };
    Some(json!({ "title": title, "text": text, "href": href, "action": action }))
}

#[derive(Deserialize)]
struct PageQuery {
    before: Option<String>,
    flash: Option<String>,
}

async fn notifications(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let page = profile::notifications(&app, signed.actor(), q.before.as_deref(), Some(25)).await?;
    Ok(Page::new("notifications.html", "Notifications")
        .with("nav", "notifications")
        .with("page", page)
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct ReadForm {
    id: Option<String>,
}

async fn mark_read(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<ReadForm>,
) -> PageResult {
    let ids = form.id.map(|id| vec![id]);
    profile::mark_notifications_read(&app, signed.actor(), ids.as_deref()).await?;
    Ok(see_other("/notifications?flash=read"))
}

#[derive(Deserialize, Serialize, Default)]
struct SupportForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

async fn support_view(app: &App, signed: &SignedIn, form: &SupportForm) -> Result<Page, Error> {
    let list = support::list(app, signed.actor()).await?;
    let requests: Vec<_> = list
        .support_requests
        .iter()
        .map(|r| json!({ "subject": r.subject, "category_label": r.category.label(), "created_at": r.created_at, "status": r.status,
                        "answer": r.answer, "answered_at": r.answered_at }))
        .collect();
    let categories: Vec<_> = SupportCategory::ALL
        .iter()
        .map(|c| json!({ "value": c.as_str(), "label": c.label() }))
        .collect();
    Ok(Page::new("support.html", "Support")
        .with("nav", "support")
        .with("forwarded", app.settings.support_email.is_some())
        .with("requests", requests)
        .with("categories", categories)
        .with("form", form))
}

async fn support_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(support_view(&app, &signed, &SupportForm::default())
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

async fn send_support(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<SupportForm>,
) -> PageResult {
    let category = SupportCategory::parse(&form.category).unwrap_or(SupportCategory::Other);
    let req = api::CreateSupportRequest {
        category,
        subject: form.subject.clone(),
        // Browsers send a textarea's line breaks as CRLF.
        body: form.body.replace("\r\n", "\n"),
    };
    support::submit(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(support_view(&app, &signed, &form).await?.with_errors(fe))
        })
        .await?;
    Ok(see_other(if app.settings.support_email.is_some() {
        "/support?flash=support_sent"
    } else {
        "/support?flash=support_kept"
    }))
}

async fn public_profile(
    State(app): State<App>,
    session: WebSession,
    Path(username): Path<String>,
) -> PageResult {
    let mut p = profile::public_profile(&app, &username).await?;
    let name = p.display_name.clone().unwrap_or_else(|| p.username.clone());
    p.avatar_url = p.avatar_url.map(|u| local_avatar_url(&app, &u));
    Ok(Page::new("public_profile.html", name.clone())
        .with("profile", &p)
        .with("initial", initial(&name))
        .render(&app, &session)
        .await)
}

/// An avatar for the pages. The API's avatar URL only shows a private
/// profile's picture to a request carrying its owner's token, which a page's
/// `<img>` cannot send; here the browser's signed-in accounts count instead:
/// public avatars for anyone, a private one where its owner is signed in.
async fn avatar(State(app): State<App>, session: WebSession, Path(id): Path<String>) -> PageResult {
    let accounts = session.accounts();
    let viewer = accounts
        .iter()
        .find(|a| a.actor.user_id == id)
        .or(accounts.first())
        .map(|a| &a.actor);
    let (content_type, data) = profile::avatar(&app, viewer, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        data,
    )
        .into_response())
}

/// The activity feed on Home (S3), in `home_feed.html`. A feed that cannot
/// be read says so in its panel; the rest of Home still shows.
async fn with_feed(app: &App, actor: &Actor, page: Page, before: Option<String>) -> Page {
    let paged = before.is_some();
    let q = api::FeedQuery {
        before,
        limit: Some(20),
    };
    match feed::feed(app, actor, &q).await {
        Ok(feed) => page.with("feed", feed).with("feed_paged", paged),
        Err(e) => {
            tracing::warn!(error = %e, "the activity feed could not be read");
            page.with("feed_error", true)
        }
    }
}
