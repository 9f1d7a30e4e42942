//! Rendering pages: the templates compiled into the binary, the context every
//! page shares (who is signed in, the CSRF token, a flash message), and the
//! error pages.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, State, Value};
use serde::Serialize;
use serde_json::json;

use super::session::WebSession;
use crate::clock::{Millis, DAY, HOUR, MINUTE};
use crate::domain::{accounts, views};
use crate::error::Error;
use crate::state::App;
use crate::store;

macro_rules! templates {
    ($($name:literal),* $(,)?) => { &[$(($name, include_str!(concat!("templates/", $name)))),*] };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "sign_up.html",
    "check_email.html",
    "sign_in.html",
    "trouble.html",
    "message.html",
    "token_form.html",
    "welcome.html",
    "home.html",
    "landing.html",
    "error.html",
    "settings_base.html",
    "settings_profile.html",
    "settings_account.html",
    "settings_notifications.html",
    "settings_sessions.html",
    "settings_api_keys.html",
    "notifications.html",
    "support.html",
    "public_profile.html",
    "team_base.html",
    "team_list.html",
    "team_home.html",
    "team_discovery.html",
    "team_requests.html",
    "team_audit.html",
    "team_join.html",
    "team_invite.html",
);

const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("page templates parse");
        }
        env.add_function("asset", |name: String| {
            Value::from_safe_string(super::assets::url(&name))
        });
        env.add_function("avatar", avatar);
        env.add_function("when", when);
        env
    })
}

/// An avatar image, or the initial of the name when there is none.
fn avatar(user: Value, size: Option<String>) -> Value {
    let class = match size.as_deref() {
        Some(s) if !s.is_empty() => format!("avatar {s}"),
        _ => "avatar".to_owned(),
    };
    let url = user
        .get_attr("avatar_url")
        .ok()
        .filter(|v| !v.is_none() && !v.is_undefined());
    let initial = user
        .get_attr("initial")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let html = match url {
        Some(url) => format!(
            "<img class=\"{class}\" src=\"{}\" alt=\"\">",
            escape(&url.to_string())
        ),
        None => format!(
            "<span class=\"{class}\" aria-hidden=\"true\">{}</span>",
            escape(&initial)
        ),
    };
    Value::from_safe_string(html)
}

/// `<time>` with a relative text ("5 minutes ago") and the full UTC time on hover.
fn when(state: &State, iso: String) -> Value {
    let now: Millis = state
        .lookup("now")
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    let Ok(t) = time::OffsetDateTime::parse(&iso, &time::format_description::well_known::Rfc3339)
    else {
        return Value::from(iso);
    };
    let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
    let ago = now - ms;
    let relative = match ago {
        a if a < MINUTE => "just now".to_owned(),
        a if a < HOUR => plural(a / MINUTE, "minute"),
        a if a < DAY => plural(a / HOUR, "hour"),
        a if a < 30 * DAY => plural(a / DAY, "day"),
        _ => format!("on {}", iso.get(..10).unwrap_or(&iso)),
    };
    let full = format!("{} UTC", iso.get(..16).unwrap_or(&iso).replace('T', " "));
    Value::from_safe_string(format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        escape(&iso),
        escape(&full),
        escape(&relative)
    ))
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Messages shown after a redirect, chosen by `?flash=<key>`.
const FLASHES: &[(&str, &str, &str)] = &[
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
    (
        "support_sent",
        "ok",
        "Your request was sent. We will answer by email.",
    ),
    ("signed_out", "info", "You were signed out."),
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
];

pub fn flash(key: Option<&str>) -> Option<serde_json::Value> {
    let key = key?;
    FLASHES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kind, text)| json!({ "kind": kind, "text": text }))
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

    /// Renders with the signed-in account, its other accounts and the CSRF token.
    pub async fn render(self, app: &App, session: &WebSession) -> Response {
        match self.context(app, session).await {
            Ok(ctx) => self.finish(ctx),
            Err(e) => error_response(e),
        }
    }

    async fn context(&self, app: &App, session: &WebSession) -> Result<serde_json::Value, Error> {
        let mut ctx = self.ctx.clone();
        let signed_in = session.accounts();
        if let Some(active) = signed_in.first() {
            let user = accounts::current_user(app, &active.actor.user_id).await?;
            let unread =
                store::events::unread_count(&mut *app.store.conn().await?, &user.id).await?;
            let mut me = person(app, &user);
            me["email"] = json!(user.email);
            me["unread"] = json!(unread);
            me["verified"] = json!(user.email_verified_at.is_some());
            me["public"] = json!(user.profile_public != 0);
            ctx["me"] = me;
            let mut others = Vec::new();
            for other in signed_in.iter().skip(1) {
                match accounts::current_user(app, &other.actor.user_id).await {
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

fn render_response(status: StatusCode, template: &str, ctx: serde_json::Value) -> Response {
    let rendered = env()
        .get_template(template)
        .and_then(|t| t.render(Value::from_serialize(&ctx)));
    let mut response = match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, template, "page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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

/// A page for an error status, in the dashboard's look.
pub fn error_status(status: StatusCode) -> Response {
    let (heading, text) = match status.as_u16() {
        403 => (
            "You can't do that",
            "You don't have access to this page or action.",
        ),
        404 => (
            "Page not found",
            "There is nothing here. The link may be old or mistyped.",
        ),
        413 => (
            "That was too large",
            "What you sent is larger than this server accepts.",
        ),
        429 => (
            "Slow down",
            "There were too many attempts. Wait a few minutes and try again.",
        ),
        400 | 422 => (
            "That did not work",
            "The request could not be understood. Go back and try again.",
        ),
        _ => (
            "Something went wrong",
            "It was logged, and it is not your fault. Try again in a moment.",
        ),
    };
    error_page(
        status,
        json!({ "title": heading, "status": status.as_u16(), "heading": heading, "text": text, "narrow": true }),
    )
}

pub fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        json!({
            "title": "This form has expired", "status": 403, "heading": "This form has expired",
            "text": "It was opened too long ago or did not come from this site. Go back, reload the page and try again.",
            "narrow": true,
        }),
    )
}

/// Marks a response as an error page, with the context it was rendered from.
#[derive(Clone)]
struct ErrorPage(serde_json::Value);

/// Error pages are made where no session is at hand (extractors, rejections),
/// so they render as if nobody were signed in; [`with_session`] renders them
/// again with the signed-in account once the session middleware has one.
fn error_page(status: StatusCode, ctx: serde_json::Value) -> Response {
    let mut response = render_response(status, "error.html", ctx.clone());
    response.extensions_mut().insert(ErrorPage(ctx));
    response
}

/// An error page rendered again for the browser's signed-in account, so its
/// header shows the account menu rather than "Sign in"; other responses as they are.
pub async fn with_session(response: Response, app: &App, session: &WebSession) -> Response {
    let Some(ErrorPage(ctx)) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    if session.active().is_none() {
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

/// The page for an error a form cannot show next to its fields.
pub fn error_response(e: Error) -> Response {
    let status = e.status();
    let mut response = error_status(status);
    if let Some(cause) = e.failure_cause() {
        response.extensions_mut().insert(cause);
    }
    if let Error::TooManyRequests {
        retry_after_secs, ..
    } = e
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        );
    }
    response
}

/// How a form shows an error from the domain: a message, per-field
/// messages, and whether to show the captcha.
#[derive(Default, Serialize)]
pub struct FormError {
    pub error: Option<String>,
    pub errors: BTreeMap<String, String>,
    pub captcha: bool,
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
                captcha: false,
            }),
            Error::Conflict { .. }
            | Error::BadRequest { .. }
            | Error::Unauthenticated { .. }
            | Error::TooManyRequests { .. } => {
                let errors = body
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), capitalise(v)))
                    .collect();
                let mut fe = FormError {
                    error: Some(capitalise(&body.message)),
                    errors,
                    captcha: false,
                };
                if !fe.errors.is_empty() {
                    fe.error = Some("Please fix the fields below.".into());
                }
                Some(fe)
            }
            Error::Forbidden { code, .. } if code.starts_with("captcha") => Some(FormError {
                error: Some(
                    "Please complete the check that you are not a robot, then send the form again."
                        .into(),
                ),
                errors: BTreeMap::new(),
                captcha: true,
            }),
            // Something the person can fix (confirm the address) rather
            // than a page they may not see.
            Error::Forbidden { code, .. } if *code == "email_not_verified" => Some(FormError {
                error: Some(capitalise(&body.message)),
                errors: BTreeMap::new(),
                captcha: false,
            }),
            Error::TooLarge { .. } | Error::UnsupportedMedia { .. } => Some(FormError {
                error: Some(capitalise(&body.message)),
                errors: BTreeMap::new(),
                captcha: false,
            }),
            _ => None,
        }
    }

    pub fn status(e: &Error) -> StatusCode {
        e.status()
    }
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

    /// The Content-Security-Policy allows no inline style or script: a
    /// `style` attribute or an inline handler would be blocked in the browser.
    #[test]
    fn templates_need_nothing_the_csp_blocks() {
        for (name, source) in TEMPLATES {
            for banned in [
                " style=",
                "<style",
                "<script>",
                " onclick=",
                " onsubmit=",
                "javascript:",
            ] {
                assert!(!source.contains(banned), "{name} uses {banned:?}");
            }
        }
    }

    /// Every template renders, signed in and not, so a typo in one shows up here.
    #[test]
    fn every_template_renders() {
        let me = json!({
            "id": "u1", "username": "ada", "display_name": "Ada", "email": "ada@example.com", "avatar_url": null,
            "initial": "A", "unread": 2, "verified": false, "public": true,
        });
        let when = "2026-01-01T00:00:00Z";
        let ctx = json!({
            "title": "T", "csrf": "c", "now": 1_767_225_900_000i64, "me": me, "others": [me],
            "form": {}, "errors": {"email": "bad"}, "error": "oops", "captcha": true, "flash": {"kind": "ok", "text": "done"},
            "sessions": [{"id": "s", "device": "Firefox on Linux", "ip": "127.0.0.1", "created_at": when, "last_active_at": when, "current": true, "keep_signed_in": true}],
            "keys": [
                {"id": "k", "name": "laptop", "prefix": "prk_abcdef", "scopes": ["read"], "created_at": when, "last_used_at": null, "expires_at": null, "expired": false},
                {"id": "k2", "name": "ci", "prefix": "prk_ghijkl", "scopes": ["read"], "created_at": when, "last_used_at": when, "expires_at": when, "expired": true},
            ],
            "created": {"key": "prk_secret"},
            "page": {"notifications": [{"id": "n", "message": "m", "created_at": when, "read": false}], "unread_count": 1, "next_cursor": "n"},
            "requests": [{"subject": "s", "category_label": "Bug", "created_at": when, "status": "open"}],
            "categories": [{"value": "bug", "label": "Bug"}], "topics": [{"key": "security", "label": "Security", "hint": "h", "email": true, "in_app": false}],
            "usages": ["Learning"], "profile": {"username": "ada", "display_name": "Ada", "bio": "b", "links": ["https://a.example"], "avatar_url": null},
            "paragraphs": ["p"], "action": {"href": "/", "label": "Home"}, "heading": "H", "text": "t", "status": 404, "which": "password",
            "token": "t", "password": true, "section": "profile", "section_error": "profile", "email": "ada@example.com",
        });
        // The team pages (web/teams.rs).
        let seats = json!({"total": 3, "members": 1, "pending_invites": 1, "available": 1});
        let team = json!({"id": "t1", "name": "Acme", "slug": "acme", "plan": "free", "seats": seats, "discoverable": true,
            "membership": {"role": "admin", "support_only": false, "joined_at": when}, "created_at": when});
        let user = json!({"id": "u2", "username": "bob", "display_name": null, "email": "bob@example.com", "avatar_url": null, "initial": "B"});
        let invite = json!({"id": "i1", "email": null, "status": "pending", "link": "http://x/invite?token=t", "token": "t",
            "invited_by": "ada", "created_at": when, "expires_at": when});
        let mut ctx = ctx;
        for (k, v) in [
            ("team", team.clone()),
            ("admin", json!(true)),
            ("seats", seats),
            ("teams", json!([team])),
            (
                "members",
                json!([{"user": user, "role": "member", "support_only": false, "joined_at": when, "me": false, "choice": "member"}]),
            ),
            (
                "invites",
                json!([invite.clone(), {"id": "i2", "email": "carol@example.com", "status": "pending", "link": "l", "token": "t", "invited_by": null, "created_at": when, "expires_at": when}]),
            ),
            ("new_invite", invite),
            (
                "role_choices",
                json!([{"value": "member", "label": "Member"}, {"value": "admin:support", "label": "Admin, support only"}]),
            ),
            ("failed", json!("invite")),
            ("invite_email", json!("x@example.com")),
            (
                "domains",
                json!([{"domain": "acme.test", "verified": false, "verified_at": null, "txt_name": "_postroom-verification.acme.test", "txt_value": "postroom-verification=x", "created_at": when},
                {"domain": "acme.example", "verified": true, "verified_at": when, "txt_name": "n", "txt_value": "v", "created_at": when}]),
            ),
            ("any_verified", json!(true)),
            (
                "join_requests",
                json!([{"id": "r1", "team_slug": "acme", "user": user, "status": "pending", "created_at": when, "decided_at": null}]),
            ),
            (
                "log",
                json!({"entries": [{"seq": 2, "kind": "invited", "actor": {"id": "u1", "username": "ada"}, "summary": "ada created an invite link", "data": {}, "created_at": when},
                {"seq": 1, "kind": "domain_verified", "actor": null, "summary": "The operator verified", "data": {}, "created_at": when}], "next_cursor": "1"}),
            ),
            ("older", json!(true)),
            (
                "discoverable",
                json!([{"name": "Acme", "slug": "acme", "members": 2, "join_request_pending": false}, {"name": "Beta", "slug": "beta", "members": 1, "join_request_pending": true}]),
            ),
            (
                "invite",
                json!({"team_name": "Acme", "team_slug": "acme", "email": "bob@example.com", "invited_by": "ada", "expires_at": when}),
            ),
            ("next", json!("%2Finvite%3Ftoken%3Dt")),
            ("next_query", json!("?next=%2F")),
        ] {
            ctx[k] = v;
        }
        for (name, _) in TEMPLATES {
            if *name == "macros.html" {
                continue;
            }
            for signed_in in [true, false] {
                let mut ctx = ctx.clone();
                if !signed_in {
                    ctx["me"] = serde_json::Value::Null;
                }
                let html = env()
                    .get_template(name)
                    .unwrap()
                    .render(Value::from_serialize(&ctx));
                assert!(html.is_ok(), "{name}: {:?}", html.err());
            }
        }
    }
}
