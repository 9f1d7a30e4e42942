//! The page templates, compiled into the binary, and their environment:
//! the functions templates call (`asset`, `avatar`, `when`) and the headers
//! every rendered page carries (a strict Content-Security-Policy, no caching).

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, State, Value};

use crate::clock::{Millis, DAY, HOUR, MINUTE};

macro_rules! templates {
    ($($name:literal),* $(,)?) => { &[$(($name, include_str!(concat!("templates/", $name)))),*] };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "sign_up.html",
    "check_email.html",
    "sign_in.html",
    "two_step.html",
    "settings_two_step.html",
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
    "settings_security.html",
    "oidc_continue.html",
    "settings_api_keys.html",
    "settings_security.html",
    "notifications.html",
    "support.html",
    "public_profile.html",
    "public_collection.html",
    "collection_tree.html",
    "collections_tabs.html",
    "collections.html",
    "collection.html",
    "collection_delete.html",
    "collection_revisions.html",
    "collection_revision.html",
    "environments.html",
    "environment.html",
    "history.html",
    "header_presets.html",
    "home_feed.html",
    "team_base.html",
    "team_list.html",
    "team_home.html",
    "team_discovery.html",
    "team_sso.html",
    "billing_tabs.html",
    "billing.html",
    "billing_cancel.html",
    "billing_plans.html",
    "billing_preview.html",
    "billing_confirm.html",
    "billing_cards.html",
    "billing_history.html",
    "billing_invoices.html",
    "billing_invoice.html",
    "team_requests.html",
    "team_audit.html",
    "team_join.html",
    "team_invite.html",
    "conflicts.html",
    "conflict.html",
    "admin_base.html",
    "admin_confirm.html",
    "admin_home.html",
    "admin_users.html",
    "admin_user.html",
    "admin_teams.html",
    "admin_support.html",
    "admin_support_request.html",
    "admin_audit.html",
    "oauth_consent.html",
    "device.html",
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
        env.add_function("date", |iso: String| {
            crate::clock::date_in_words(&iso, false)
        });
        env.add_function("money", money);
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

/// An amount (`{amount, currency}`, as the API writes `Money`) for people:
/// "$12.00", "-$3.64".
fn money(m: Value) -> String {
    let amount = m
        .get_attr("amount")
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    let currency = m
        .get_attr("currency")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    postroom_core::billing::format_money(amount, &currency)
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

/// Lets the forms of a rendered page also be answered by a redirect to
/// `source` (a CSP source expression): a consent page's Approve and Deny
/// send the browser back to a program on this computer, and browsers hold
/// a form's redirects to `form-action` too. Nothing else is relaxed.
pub(super) fn allow_form_redirect(response: &mut Response, source: &str) {
    let relaxed = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    );
    if let Ok(value) = HeaderValue::from_str(&relaxed) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Lets a rendered page load Stripe.js from `js_origin` and let it work:
/// its frames (the card element, 3-D Secure) and its calls to the
/// provider's API at `api_origin`. Only the pages that add a card or
/// confirm a payment get this; every other page loads nothing from
/// elsewhere.
pub(super) fn allow_stripe(response: &mut Response, js_origin: &str, api_origin: &str) {
    let connect = if api_origin == js_origin {
        js_origin.to_owned()
    } else {
        format!("{js_origin} {api_origin}")
    };
    let relaxed = CSP
        .replace(
            "script-src 'self'",
            &format!("script-src 'self' {js_origin}"),
        )
        .replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {connect}"),
        )
        .replace(
            "form-action 'self'",
            &format!("frame-src {js_origin}; form-action 'self'"),
        );
    if let Ok(value) = HeaderValue::from_str(&relaxed) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Renders a template with its whole context.
pub(super) fn render_response(
    status: StatusCode,
    template: &str,
    ctx: serde_json::Value,
) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    /// The Stripe pages' policy lets in the script's origin, its frames and
    /// its calls to the provider's API, and nothing else changes.
    #[test]
    fn stripe_pages_let_in_the_provider_only() {
        let mut r = render_response(StatusCode::OK, "message.html", json!({"title": "T"}));
        allow_stripe(&mut r, "https://js.stripe.com", "https://api.stripe.com");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self' https://js.stripe.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://js.stripe.com;"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"),
            "{csp}"
        );
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("form-action 'self';"), "{csp}");
        let plain = render_response(StatusCode::OK, "message.html", json!({"title": "T"}));
        assert!(!plain.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("stripe"));
    }

    /// Every template renders, signed in and not, so a typo in one shows up here.
    #[test]
    fn every_template_renders() {
        let me = json!({
            "id": "u1", "username": "ada", "display_name": "Ada", "email": "ada@example.com", "avatar_url": null,
            "initial": "A", "unread": 2, "conflicts": 1, "verified": false, "public": true,
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
                json!([{"user": user, "role": "member", "support_only": false, "joined_at": when, "me": false, "choice": "member"},
                {"user": user, "role": "admin", "support_only": false, "joined_at": when, "me": false, "choice": "admin"}]),
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
            // The workspace pages (web/collections.rs, web/workspace.rs).
            (
                "items",
                json!([{"id": "c1", "kind": "collection", "name": "Conduit", "owner": {"type": "team", "team": {"slug": "acme", "name": "Acme"}},
                    "revision": 2, "size": 10, "created_at": when, "created_by": {"id": "u1", "username": "ada"}, "updated_at": when,
                    "updated_by": {"id": "u1", "username": "ada"}, "subscribed": true, "deleted_at": when, "purge_at": when}]),
            ),
            (
                "item",
                json!({"id": "c1", "kind": "collection", "name": "Conduit", "owner": {"type": "private", "user": {"id": "u1", "username": "ada"}},
                    "revision": 2, "size": 10, "created_at": when, "created_by": null, "updated_at": when, "updated_by": null, "subscribed": false}),
            ),
            (
                "rows",
                json!([{"depth": 0, "folder": true, "name": "Auth", "method": null, "url": null, "description_html": "<p>x</p>",
                    "key": "k", "value": "v", "enabled": true, "secret": true},
                    {"depth": 9, "folder": false, "name": "Login", "method": "POST", "url": "{{host}}/login", "description_html": null}]),
            ),
            ("new_rows", json!(2)),
            ("has_secrets", json!(true)),
            ("can_remove", json!(true)),
            (
                "links",
                json!([{"id": "l1", "url": "http://x/l/a.b", "collection": {"id": "c1", "name": "Conduit", "revision": 2},
                    "created_by": {"id": "u1", "username": "ada"}, "created_at": when, "team": {"slug": "acme", "name": "Acme"}}]),
            ),
            (
                "revisions",
                json!([{"revision": 2, "created_at": when, "created_by": {"id": "u1", "username": "ada"}, "size": 2048, "current": true},
                    {"revision": 1, "created_at": when, "created_by": null, "size": 10, "current": false}]),
            ),
            (
                "feed",
                json!({"events": [{"id": "e1", "at": when, "actor": null, "action": "updated", "summary": "ada updated Conduit (revision 2)",
                    "item": {"id": "c1", "kind": "collection", "name": "Conduit"}, "revision": 2, "team": {"slug": "acme", "name": "Acme"}}], "next": "1.x"}),
            ),
            (
                "import",
                json!({"result": {"collections": [{"id": "c1", "name": "Conduit", "revision": 1}], "environments": [],
                    "skipped": [{"path": "a.txt", "reason": "not a JSON file"}]}, "error": "bad file"}),
            ),
            ("revision", json!(1)),
            ("restore_days", json!(30)),
            // The conflict pages (web/conflicts.rs) and a save kept as a conflict.
            (
                "conflicts",
                json!([{"id": "k1", "noun": "collection", "item": {"id": "c1", "name": "Conduit", "revision": 3}, "team": "acme",
                    "op": "put", "base_revision": 1, "theirs_revision": 3, "created_at": when, "paths": ["item[id=r1].request.url.raw"]},
                    {"id": "k2", "noun": "environment", "item": {"id": "e1", "name": "Dev", "revision": 2}, "team": null,
                    "op": "delete", "base_revision": 1, "theirs_revision": 2, "created_at": when, "paths": []}]),
            ),
            (
                "conflict",
                json!({"id": "k1", "type": "collection", "item": {"id": "c1", "name": "Conduit", "revision": 3}, "team": "acme",
                    "op": "put", "base_revision": 1, "theirs_revision": 3, "fields": [], "created_at": when, "resolution": null,
                    "noun": "collection", "paths": ["item[id=r1].request.url.raw"], "deleted": false}),
            ),
            (
                "fields",
                json!([{"path": "item[id=r1].request.url.raw", "where": "“Get” › request.url.raw", "base": "a", "theirs": "b", "mine": null},
                    {"path": "info.name", "where": "info.name", "base": null, "theirs": "{\n  \"a\": 1\n}", "mine": "c"}]),
            ),
            ("noun", json!("collection")),
            ("item_href", json!("/collections/c1")),
            ("mergeable", json!(true)),
            ("item_deleted", json!(false)),
            ("document", json!("{\n  \"info\": {}\n}")),
            ("watch", json!({"id": "c1", "revision": 3})),
            // A program's sign-in (web/oauth.rs).
            (
                "consent",
                json!({"client_id": "postroom-cli", "client_name": "postroom CLI", "device_name": "ada-laptop", "label": "postroom CLI on ada-laptop"}),
            ),
            ("request", json!("r1")),
            ("returns_to", json!("http://127.0.0.1:53123")),
            ("user_code", json!("BCDF-GHJK")),
            // The billing pages (web/billing.rs).
            ("billing_tab", json!(true)),
            (
                "billing",
                json!({"plan": "pro", "cycle": "month", "seats": {"total": 5, "members": 2, "pending_invites": 1, "available": 2},
                    "status": "past_due", "period": {"start": when, "end": when}, "balance": {"amount": 1250, "currency": "usd"},
                    "upcoming_invoice": {"id": "in1", "number": null, "kind": "invoice", "status": "draft", "issued_at": when,
                        "period": {"start": when, "end": when},
                        "lines": [{"description": "Pro × 5 seats", "amount": {"amount": 5000, "currency": "usd"}, "period": {"start": when, "end": when}, "proration": false}],
                        "subtotal": {"amount": 5000, "currency": "usd"}, "from_balance": {"amount": 1250, "currency": "usd"},
                        "from_card": {"amount": 3750, "currency": "usd"}, "total": {"amount": 5000, "currency": "usd"}, "currency": "usd", "paid_at": null},
                    "recent_payments": [{"id": "p1", "at": when, "amount": {"amount": 2000, "currency": "usd"}, "status": "succeeded", "card": "Visa •••• 4242", "invoice": "in0"},
                        {"id": "p2", "at": when, "amount": {"amount": 500, "currency": "usd"}, "status": "requires_action", "card": null, "invoice": null}],
                    "billing_email": "billing@example.com", "details": {}, "cancel_at_period_end": true, "trial_ends_at": when, "provider": true}),
            ),
            (
                "plan",
                json!({"id": "pro", "name": "Pro", "prices": {"month": {"amount": 1000, "currency": "usd"}, "year": {"amount": 10000, "currency": "usd"}}, "max_members": null, "sso": false, "trial_days": 14}),
            ),
            ("trial_days", json!(14)),
            ("top_up_key", json!("k")),
            ("amount", json!("20")),
            (
                "plans",
                json!([{"id": "free", "name": "Free", "prices": {"month": {"amount": 0, "currency": "usd"}, "year": {"amount": 0, "currency": "usd"}}, "max_members": 3, "sso": false, "trial_days": null},
                    {"id": "pro", "name": "Pro", "prices": {"month": {"amount": 1000, "currency": "usd"}, "year": {"amount": 10000, "currency": "usd"}}, "max_members": null, "sso": false, "trial_days": 14}]),
            ),
            ("used", json!(3)),
            (
                "quote",
                json!({"id": "q1", "expires_at": when, "lines": [{"description": "Remaining time on Pro after 1 January 2026", "amount": {"amount": -364, "currency": "usd"}, "period": {"start": when, "end": when}, "proration": true}],
                    "subtotal": {"amount": -364, "currency": "usd"}, "from_balance": {"amount": 0, "currency": "usd"}, "from_card": {"amount": 100, "currency": "usd"}, "total": {"amount": 100, "currency": "usd"}}),
            ),
            ("chosen", json!({"id": "pro", "name": "Pro"})),
            (
                "choice",
                json!({"plan": "pro", "cycle": "year", "seats": 5}),
            ),
            ("card", json!(null)),
            ("key", json!("k")),
            (
                "payment",
                json!({"payment_id": "p1", "client_secret": "pi_1_secret_2", "publishable_key": "pk_test"}),
            ),
            (
                "cards",
                json!([{"id": "c1", "brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2030, "default": true, "expired": false},
                    {"id": "c2", "brand": "mastercard", "last4": "4444", "exp_month": 12, "exp_year": 2020, "default": false, "expired": true}]),
            ),
            ("publishable_key", json!("pk_test")),
            ("stripe_js", json!("https://js.stripe.com/v3/")),
            (
                "history",
                json!({"entries": [{"at": when, "kind": "payment", "description": "Paid $20.00 with Visa •••• 4242", "amount": {"amount": 2000, "currency": "usd"}, "actor": null}], "next": "5"}),
            ),
            (
                "invoices",
                json!({"invoices": [{"id": "in1", "number": "PR-0001", "kind": "credit_note", "status": "paid", "issued_at": when, "period": null, "lines": [],
                    "subtotal": {"amount": 0, "currency": "usd"}, "from_balance": {"amount": 0, "currency": "usd"}, "from_card": {"amount": 0, "currency": "usd"},
                    "total": {"amount": 0, "currency": "usd"}, "currency": "usd", "paid_at": when}], "next": null}),
            ),
            (
                "invoice",
                json!({"id": "in1", "number": "PR-0001", "kind": "invoice", "status": "paid", "issued_at": when, "period": {"start": when, "end": when},
                    "lines": [{"description": "Pro × 5 seats", "amount": {"amount": 5000, "currency": "usd"}, "period": {"start": when, "end": when}, "proration": false}],
                    "subtotal": {"amount": 5000, "currency": "usd"}, "from_balance": {"amount": 0, "currency": "usd"}, "from_card": {"amount": 5000, "currency": "usd"},
                    "total": {"amount": 5000, "currency": "usd"}, "currency": "usd", "paid_at": when}),
            ),
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
                for (i, tab) in ["private", "team", "links", "deleted"].iter().enumerate() {
                    ctx["tab"] = json!(tab);
                    ctx["kind"] = json!(["environment", "globals", "preset"][i % 3]);
                    let html = env()
                        .get_template(name)
                        .unwrap()
                        .render(Value::from_serialize(&ctx));
                    assert!(html.is_ok(), "{name} ({tab}): {:?}", html.err());
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
