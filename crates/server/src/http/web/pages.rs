//! Pages: the context every page shares (who is signed in, the CSRF token, a
//! flash message), redirects and the `next` rule, and how forms show errors.
//! Templates are rendered by `render`; error pages are `errors`. Pages learn
//! who is signed in through [`Viewer`], so they do not depend on the session
//! module, which depends on them.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::errors::{error_response, ErrorPage};
use super::render::render_response;
use crate::domain::workspace::{conflicts, documents};
use crate::domain::{accounts, views};
use crate::error::Error;
use crate::state::App;
use crate::store;

/// Messages shown after a redirect, chosen by `?flash=<key>`.
const FLASHES: &[(&str, &str, &str)] = &[
    ("user_created", "ok", "The account was created; a mail with a link to choose a password is on its way."),
    ("user_disabled", "ok", "The account is disabled: its sessions and API keys ended, and it cannot sign in."),
    ("user_enabled", "ok", "The account is enabled again: it can sign in."),
    ("user_signed_out", "ok", "Every session of the account ended."),
    ("plan_set", "ok", "The team's plan and seats were set."),
    (
        "user_two_factor_off",
        "ok",
        "Two-step verification is off for the account; the person was told by mail.",
    ),
    ("user_deleted", "ok", "The account was deleted."),
    ("support_answered", "ok", "The answer was sent, and is shown on the person's support page."),
    ("support_closed", "ok", "The request is closed."),
    ("profile_saved", "ok", "Your profile was saved."),
    ("avatar_saved", "ok", "Your new avatar is up."),
    ("avatar_removed", "ok", "Your avatar was removed."),
    ("username_changed", "ok", "Your username was changed."),
    (
        "email_change_sent",
        "ok",
        "Check your new address: we sent it a link. Your email changes when you open it.",
    ),
    (
        "password_changed",
        "ok",
        "Your password was changed. Your other sessions were signed out.",
    ),
    (
        "prefs_saved",
        "ok",
        "Your notification preferences were saved.",
    ),
    ("session_revoked", "ok", "That session was signed out."),
    (
        "sessions_revoked",
        "ok",
        "All your other sessions were signed out.",
    ),
    ("key_revoked", "ok", "The API key was revoked."),
    ("provider_linked", "ok", "The provider is linked: you can sign in with it."),
    ("provider_unlinked", "ok", "The provider is no longer linked to your account."),
    ("sso_saved", "ok", "Single sign-on is set up. Test it before you require it."),
    ("sso_tested", "ok", "Single sign-on works: you signed in through it."),
    ("sso_enforced", "ok", "Single sign-on is now required for the team's domains."),
    ("sso_not_enforced", "ok", "Single sign-on is no longer required."),
    ("sso_removed", "ok", "Single sign-on was removed."),
    ("billing_details_saved", "ok", "The billing details were saved."),
    ("topped_up", "ok", "The money was added to the balance."),
    ("plan_changed", "ok", "The subscription was changed. Its invoice is under Invoices."),
    (
        "payment_confirmed",
        "ok",
        "The payment went through, and what it paid for took effect.",
    ),
    (
        "subscription_cancelled",
        "ok",
        "The subscription is cancelled: the team keeps its plan until the end of the period, then returns to Free.",
    ),
    ("subscription_resumed", "ok", "The subscription goes on: it renews at the end of the period."),
    ("trial_started", "ok", "The trial started. Add a card before it ends to keep the plan."),
    ("card_added", "ok", "The card was added."),
    ("default_card_set", "ok", "That card is now the default: invoices are charged to it."),
    ("card_removed", "ok", "The card was removed."),
    (
        "passkey_added",
        "ok",
        "Your passkey was added: use it to sign in on this site.",
    ),
    ("passkey_renamed", "ok", "The passkey was renamed."),
    (
        "passkey_removed",
        "ok",
        "The passkey was removed: it no longer signs you in.",
    ),
    (
        "support_sent",
        "ok",
        "Your request was sent. We will answer by email.",
    ),
    (
        "support_kept",
        "ok",
        "Your request was saved on this server. No support address is set up here, so nobody was notified.",
    ),
    ("signed_out", "info", "You were signed out."),
    (
        "sign_in_expired",
        "error",
        "That sign-in took too long or had too many wrong codes. Sign in again.",
    ),
    (
        "two_factor_on",
        "ok",
        "Two-step verification is on. Your other sessions were signed out.",
    ),
    ("two_factor_off", "ok", "Two-step verification is off."),
    (
        "account_deleted",
        "info",
        "Your account was deleted. We sent a last mail to confirm it.",
    ),
    ("switched", "info", "You switched accounts."),
    ("read", "ok", "Marked as read."),
    (
        "team_created",
        "ok",
        "Your team was created. Invite your teammates below.",
    ),
    ("team_renamed", "ok", "The team was renamed."),
    (
        "team_deleted",
        "info",
        "The team was deleted. Its members were told by mail.",
    ),
    ("invite_sent", "ok", "The invite was sent by email."),
    (
        "invite_link_created",
        "ok",
        "The invite link was created. Copy it and share it with the person you invite.",
    ),
    (
        "invite_cancelled",
        "ok",
        "The invite was cancelled: its link no longer works.",
    ),
    ("role_changed", "ok", "The role was changed."),
    (
        "member_removed",
        "ok",
        "The member was removed and lost access at once.",
    ),
    ("left_team", "info", "You left the team."),
    ("joined_team", "ok", "Welcome to the team!"),
    (
        "domain_added",
        "ok",
        "The domain was added. Create its DNS record, then verify it.",
    ),
    ("domain_verified", "ok", "The domain is verified."),
    ("domain_removed", "ok", "The domain was removed."),
    ("discovery_on", "ok", "Discovery is on."),
    ("discovery_off", "ok", "Discovery is off."),
    (
        "join_requested",
        "ok",
        "Your request was sent. An admin of the team will decide.",
    ),
    (
        "request_approved",
        "ok",
        "The request was approved: they are a member now.",
    ),
    ("request_declined", "info", "The request was declined."),
    (
        "item_shared",
        "ok",
        "It is shared: every member of the team with a seat can read and edit it.",
    ),
    ("item_unshared", "ok", "It is back among your private items."),
    (
        "collection_shared",
        "ok",
        "The collection is shared: every member of the team with a seat can read and edit it.",
    ),
    (
        "collection_unshared",
        "ok",
        "The collection is back among your private collections.",
    ),
    (
        "link_created",
        "ok",
        "The link was made. Copy it below: anyone who has it can read the collection.",
    ),
    (
        "link_revoked",
        "ok",
        "The link was revoked: it no longer works.",
    ),
    (
        "subscribed",
        "ok",
        "Subscribed: its changes show in your activity on Home.",
    ),
    ("unsubscribed", "info", "Unsubscribed."),
    (
        "collection_deleted",
        "ok",
        "The collection was deleted. You can restore it here for 30 days.",
    ),
    ("collection_restored", "ok", "The collection was restored."),
    (
        "revision_restored",
        "ok",
        "The revision was restored as the newest revision.",
    ),
    ("saved", "ok", "Saved."),
    (
        "environment_created",
        "ok",
        "The environment was created. Add its variables below.",
    ),
    (
        "environment_deleted",
        "ok",
        "The environment was deleted. You can restore it below for 30 days.",
    ),
    (
        "environment_restored",
        "ok",
        "The environment was restored.",
    ),
    ("history_deleted", "ok", "The history entry was deleted."),
    (
        "preset_created",
        "ok",
        "The header preset was created. Add its headers below.",
    ),
    ("preset_deleted", "ok", "The header preset was deleted."),
    (
        "conflict_mine",
        "ok",
        "The conflict is resolved: your version was kept where the two differed.",
    ),
    (
        "conflict_theirs",
        "ok",
        "The conflict is resolved: the current version was kept and yours dropped.",
    ),
    (
        "conflict_deleted",
        "ok",
        "The conflict is resolved: it was deleted. It can be restored for 30 days.",
    ),
    (
        "conflict_merged",
        "ok",
        "The conflict is resolved: your merge was saved.",
    ),
    (
        "conflict_again",
        "info",
        "It changed again in the same place while you were resolving: your choice was kept as this new conflict.",
    ),
];

pub fn flash(key: Option<&str>) -> Option<serde_json::Value> {
    let key = key?;
    FLASHES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kind, text)| json!({ "kind": kind, "text": text }))
}

/// A write a page made that was kept as a conflict (S7), as the page tells
/// it: the conflict to resolve, what the item is, and where both changed.
/// `None` for any other error.
pub fn kept_conflict(e: &Error) -> Option<serde_json::Value> {
    let Error::MergeConflict { conflict, .. } = e else {
        return None;
    };
    let paths: Vec<&str> = conflict.fields.iter().map(|f| f.path.as_str()).collect();
    Some(json!({
        "id": conflict.id,
        "noun": documents::noun(conflict.kind),
        "paths": paths,
        "deleted": conflict.op == "delete",
    }))
}

/// What a page shows of the browser it is rendered for; the browser's
/// session (`session::WebSession`) is one.
pub trait Viewer: Sync {
    /// The ids of the accounts signed in, the acting one first.
    fn user_ids(&self) -> Vec<String>;
    /// The token the page's forms carry.
    fn csrf_token(&self) -> &str;
}

/// A page to render: a template, its title, and its own context.
pub struct Page {
    template: &'static str,
    title: String,
    status: StatusCode,
    ctx: serde_json::Value,
}

impl Page {
    pub fn new(template: &'static str, title: impl Into<String>) -> Page {
        Page {
            template,
            title: title.into(),
            status: StatusCode::OK,
            ctx: json!({}),
        }
    }

    pub fn status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    /// Adds `key` to the template's context.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Page {
        self.ctx[key] = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self
    }

    /// Adds a form's message and its fields' messages.
    pub fn with_errors(self, fe: FormError) -> Page {
        self.with("error", fe.error).with("errors", fe.errors)
    }

    /// Shows a refused save with its status: a save kept as a conflict
    /// names the conflict to resolve (`conflict`, see the template macro
    /// `conflict_notice`) instead of the refusal's words.
    pub fn refused(self, e: &Error) -> Page {
        let page = match kept_conflict(e) {
            Some(conflict) => self
                .with("error", serde_json::Value::Null)
                .with("conflict", conflict),
            None => self,
        };
        page.status(e.status())
    }

    /// Renders with the signed-in account, its other accounts and the CSRF token.
    pub async fn render(self, app: &App, session: &impl Viewer) -> Response {
        match self.context(app, session).await {
            Ok(ctx) => self.finish(ctx),
            Err(e) => error_response(e),
        }
    }

    async fn context(&self, app: &App, session: &impl Viewer) -> Result<serde_json::Value, Error> {
        let mut ctx = self.ctx.clone();
        let signed_in = session.user_ids();
        if let Some(active) = signed_in.first() {
            let user = accounts::current_user(app, active).await?;
            let unread =
                store::events::unread_count(&mut *app.store.conn().await?, &user.id).await?;
            let mut me = person(app, &user);
            me["email"] = json!(user.email);
            me["unread"] = json!(unread);
            me["verified"] = json!(user.email_verified_at.is_some());
            me["public"] = json!(user.profile_public != 0);
            me["conflicts"] = json!(conflicts::open_count(app, &user.id).await?);
            ctx["me"] = me;
            let mut others = Vec::new();
            for other in signed_in.iter().skip(1) {
                match accounts::current_user(app, other).await {
                    Ok(u) => others.push(person(app, &u)),
                    Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            ctx["others"] = json!(others);
        }
        ctx["csrf"] = json!(session.csrf_token());
        ctx["now"] = json!(app.clock.now());
        Ok(ctx)
    }

    fn finish(self, mut ctx: serde_json::Value) -> Response {
        ctx["title"] = json!(self.title);
        render_response(self.status, self.template, ctx)
    }
}

fn person(app: &App, user: &store::users::UserRow) -> serde_json::Value {
    json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": views::avatar_url(app, user).map(|u| local_avatar_url(app, &u)),
        "initial": initial(user.display_name.as_deref().unwrap_or(&user.username)),
    })
}

/// The pages' own URL for an avatar the API links as `{public_url}/api/v1/avatars/{id}?v=..`:
/// the path of the `/avatars/{id}` page route, which knows this browser's
/// accounts (see `misc::avatar`). Relative, so it also works when the server
/// is reached under another name than `public_url`.
pub fn local_avatar_url(app: &App, api_url: &str) -> String {
    let path = api_url
        .strip_prefix(&app.settings.link(""))
        .unwrap_or(api_url);
    match path.strip_prefix("/api/v1/avatars/") {
        Some(rest) => format!("/avatars/{rest}"),
        None => path.to_owned(),
    }
}

pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default()
}

/// A 303 to a local path. Characters beyond ASCII are percent-encoded, as a
/// browser would; a path that still is not plain visible ASCII (a control
/// character, a space) goes to `/` rather than failing the request.
pub fn see_other(path: &str) -> Response {
    let mut location = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii() {
            location.push(b as char);
        } else {
            location.push_str(&format!("%{b:02X}"));
        }
    }
    let location = Some(location)
        .filter(|l| l.bytes().all(|b| b.is_ascii_graphic()))
        .and_then(|l| HeaderValue::from_str(&l).ok())
        .unwrap_or_else(|| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The longest `next` followed after signing in.
const MAX_NEXT: usize = 2048;

/// Only same-origin paths are followed after signing in: one leading `/`
/// (never `//` or `/\`, which browsers read as another host), no backslash,
/// no control character or whitespace of any kind (browsers drop tabs and
/// line breaks, so `/\t/host` becomes `//host`), and not too long.
/// Anything else is `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if is_local_path(p) => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(p: &str) -> bool {
    p.len() <= MAX_NEXT
        && p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && !p.contains("://")
        && !p.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// `next` when it is a local path worth carrying (somewhere other than `/`).
pub fn local_next(next: Option<&str>) -> Option<String> {
    Some(local_path(next)).filter(|p| p != "/")
}

/// An error page rendered again for the browser's signed-in account, so its
/// header shows the account menu rather than "Sign in"; other responses as they are.
pub async fn with_session(response: Response, app: &App, session: &impl Viewer) -> Response {
    let Some(ErrorPage(ctx)) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    if session.user_ids().is_empty() {
        return response;
    }
    let page = Page {
        template: "error.html",
        title: ctx["title"].as_str().unwrap_or_default().to_owned(),
        status: response.status(),
        ctx,
    };
    let mut again = match page.context(app, session).await {
        Ok(ctx) => page.finish(ctx),
        Err(_) => return response,
    };
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        again
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    if let Some(cause) = response
        .extensions()
        .get::<crate::http::edge::FailureCause>()
    {
        again.extensions_mut().insert(cause.clone());
    }
    again
}

/// Why a page handler stopped before its last step: an error that gets an
/// error page, or a page already rendered (a form shown again with what to
/// fix). Handlers return [`PageResult`] and go step by step with `?`.
pub enum PageError {
    Error(Error),
    Shown(Response),
}

pub type PageResult = Result<Response, PageError>;

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        PageError::Error(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Error(e) => error_response(e),
            PageError::Shown(response) => response,
        }
    }
}

/// The form step of a page handler: a domain result whose error, when the
/// form can show it, shows the form again.
// Only handlers call it, on concrete types, where the compiler sees whether
// the future is `Send` (axum asks); no bound needs to be named.
#[allow(async_fn_in_trait)]
pub trait OrForm<T> {
    /// The value; or, for an error [`FormError::from`] reads, the page `show`
    /// makes with it, rendered with the error's status; or the error page.
    async fn or_form(
        self,
        app: &App,
        viewer: &impl Viewer,
        show: impl AsyncFnOnce(FormError) -> Result<Page, Error>,
    ) -> Result<T, PageError>;

    /// As [`or_form`](OrForm::or_form), with the form's own reading of errors.
    async fn or_form_with(
        self,
        read: fn(&Error) -> Option<FormError>,
        app: &App,
        viewer: &impl Viewer,
        show: impl AsyncFnOnce(FormError) -> Result<Page, Error>,
    ) -> Result<T, PageError>;
}

impl<T> OrForm<T> for Result<T, Error> {
    async fn or_form(
        self,
        app: &App,
        viewer: &impl Viewer,
        show: impl AsyncFnOnce(FormError) -> Result<Page, Error>,
    ) -> Result<T, PageError> {
        self.or_form_with(FormError::from, app, viewer, show).await
    }

    async fn or_form_with(
        self,
        read: fn(&Error) -> Option<FormError>,
        app: &App,
        viewer: &impl Viewer,
        show: impl AsyncFnOnce(FormError) -> Result<Page, Error>,
    ) -> Result<T, PageError> {
        let e = match self {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let Some(fe) = read(&e) else {
            return Err(PageError::Error(e));
        };
        let page = show(fe).await?;
        Err(PageError::Shown(
            page.status(e.status()).render(app, viewer).await,
        ))
    }
}

/// How a form shows an error from the domain: a message, per-field
/// messages, and whether to show the captcha.
#[derive(Default, Serialize)]
pub struct FormError {
    pub error: Option<String>,
    pub errors: BTreeMap<String, String>,
    pub captcha: bool,
    /// Refused by a rate limit: sending again soon is of no use.
    pub limited: bool,
}

impl FormError {
    /// None for errors that are not about the form (they get an error page).
    pub fn from(e: &Error) -> Option<FormError> {
        let body = e.body().error;
        match e {
            Error::Invalid { fields, .. } => Some(FormError {
                error: Some(if fields.is_empty() {
                    capitalise(&body.message)
                } else {
                    "Please fix the fields below.".into()
                }),
                errors: fields
                    .iter()
                    .map(|(k, v)| (k.clone(), capitalise(v)))
                    .collect(),
                ..Default::default()
            }),
            // How long to wait, which the API says in `Retry-After`.
            Error::TooManyRequests {
                retry_after_secs, ..
            } => Some(FormError {
                error: Some(format!(
                    "Too many attempts. Try again {}.",
                    wait_in_words(*retry_after_secs)
                )),
                limited: true,
                ..Default::default()
            }),
            Error::Conflict { .. }
            | Error::MergeConflict { .. }
            | Error::Gone { .. }
            | Error::BadRequest { .. }
            | Error::Unauthenticated { .. } => {
                let errors = body
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), capitalise(v)))
                    .collect();
                let mut fe = FormError {
                    error: Some(capitalise(&body.message)),
                    errors,
                    ..Default::default()
                };
                if !fe.errors.is_empty() {
                    fe.error = Some("Please fix the fields below.".into());
                }
                Some(fe)
            }
            // Worded so that it still reads true once the check's own
            // line says "Verified".
            Error::Forbidden { code, .. } if code.starts_with("captcha") => Some(FormError {
                error: Some(
                    "One more step: this page checks that you are not a robot. When the check below says so, send the form again."
                        .into(),
                ),
                captcha: true,
                ..Default::default()
            }),
            // Something the person can fix (confirm the address) rather
            // than a page they may not see.
            Error::Forbidden { code, .. } if *code == "email_not_verified" => Some(FormError {
                error: Some(capitalise(&body.message)),
                ..Default::default()
            }),
            Error::TooLarge { .. } | Error::UnsupportedMedia { .. } => Some(FormError {
                error: Some(capitalise(&body.message)),
                ..Default::default()
            }),
            _ => None,
        }
    }

    /// Names `field` in its message by the label the form shows ("URL
    /// name must be..." rather than "Slug must be...").
    pub fn labelled(mut self, field: &str, label: &str) -> FormError {
        if let Some(message) = self.errors.get_mut(field) {
            let named = capitalise(field);
            if let Some(rest) = message.strip_prefix(&named) {
                *message = format!("{label}{rest}");
            }
            *message = message.replace(
                &format!("the {field} "),
                &format!("the {} ", label.to_lowercase()),
            );
        }
        self
    }

    pub fn status(e: &Error) -> StatusCode {
        e.status()
    }
}

/// "in 5 minutes": a wait of `secs` seconds, rounded up to whole minutes
/// (hours from two hours on).
pub fn wait_in_words(secs: u64) -> String {
    let minutes = secs.max(1).div_ceil(60);
    match minutes {
        1 => "in a minute".to_owned(),
        m if m < 120 => format!("in {m} minutes"),
        m => format!("in {} hours", m.div_ceil(60)),
    }
}

/// `s` encoded for a URL's query or path segment.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_paths_are_followed() {
        let long = format!("/{}", "a".repeat(MAX_NEXT));
        for bad in [
            "",
            "evil.example",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\x0b/evil.example",
            "/\x0c/evil.example",
            "/\0/evil.example",
            "/\x7f/evil.example",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/\u{85}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{3000}/evil.example",
            "/x?to=https://evil.example",
            long.as_str(),
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
        for good in [
            "/",
            "/settings/profile",
            "/invite?token=abc-DEF_123",
            "/teams/acme?flash=joined_team",
            "/u/ada#links",
            "/caf\u{e9}",
            "/%09/stays-encoded",
        ] {
            assert_eq!(local_path(Some(good)), good, "{good:?}");
        }
        assert_eq!(local_next(Some("/")), None);
        assert_eq!(local_next(Some("//evil.example")), None);
        assert_eq!(local_next(Some("/teams")).as_deref(), Some("/teams"));
    }

    #[test]
    fn waits_are_said_in_words() {
        assert_eq!(wait_in_words(0), "in a minute");
        assert_eq!(wait_in_words(59), "in a minute");
        assert_eq!(wait_in_words(61), "in 2 minutes");
        assert_eq!(wait_in_words(300), "in 5 minutes");
        assert_eq!(wait_in_words(119 * 60), "in 119 minutes");
        assert_eq!(wait_in_words(3 * 3600), "in 3 hours");
    }

    #[test]
    fn redirects_never_fail() {
        let location = |path: &str| {
            let r = see_other(path);
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path:?}");
            r.headers()[header::LOCATION].to_str().unwrap().to_owned()
        };
        assert_eq!(location("/settings?flash=x"), "/settings?flash=x");
        assert_eq!(location("/caf\u{e9}"), "/caf%C3%A9");
        for bad in [
            "/\n/evil.example",
            "/\x0b/x",
            "/\t/evil.example",
            "/a b",
            "/\r\nSet-Cookie: x",
        ] {
            assert_eq!(location(bad), "/", "{bad:?}");
        }
    }
}
