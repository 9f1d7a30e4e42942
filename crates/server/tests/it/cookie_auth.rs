//! The JSON API accepts the web pages' session cookie, as well as bearer
//! tokens and API keys; a change made with the cookie must carry the pages'
//! CSRF token. On SQLite and PostgreSQL.

use crate::common::{Db, Resp, TestApp, PASSWORD};
use reqwest::{Client, Method};
use serde_json::{json, Value};

on_both_databases!(
    the_web_session_cookie_signs_in_the_api,
    changes_with_the_cookie_need_the_csrf_token,
    a_cookie_whose_sessions_ended_counts_as_none,
);

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in the page"))
        + start.len();
    let len = page[from..].find(end).expect("the value ends");
    &page[from..from + len]
}

/// The HTML of the page at `path`.
async fn page(t: &TestApp, browser: &Client, path: &str) -> String {
    let r = browser.get(t.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path} answered {}", r.status());
    r.text().await.unwrap()
}

/// A browser (a client that keeps cookies) signed in as `login` through the
/// sign-in form, and the CSRF token its pages carry in `<meta>`.
pub(crate) async fn browser_signed_in(t: &TestApp, login: &str) -> (Client, String) {
    let (browser, csrf, _) = browser_signed_in_with_jar(t, login).await;
    (browser, csrf)
}

/// [`browser_signed_in`], with the browser's cookie jar.
pub(crate) async fn browser_signed_in_with_jar(
    t: &TestApp,
    login: &str,
) -> (Client, String, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = page(t, &browser, "/sign-in").await;
    let form_csrf = between(&sign_in, r#"name="csrf" value=""#, "\"").to_owned();
    let signed_in = browser
        .post(t.url("/sign-in"))
        .form(&[
            ("csrf", form_csrf.as_str()),
            ("login", login),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        signed_in.status().is_redirection(),
        "the sign-in form answered {}",
        signed_in.status()
    );
    let settings = page(t, &browser, "/settings/profile").await;
    let csrf = between(&settings, r#"<meta name="csrf-token" content=""#, "\"").to_owned();
    assert_eq!(csrf, form_csrf, "pages and forms carry the same token");
    (browser, csrf, jar)
}

async fn send(
    t: &TestApp,
    browser: &Client,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Resp {
    let mut req = browser.request(method, t.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    TestApp::read(req.send().await.unwrap()).await
}

async fn the_web_session_cookie_signs_in_the_api(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let (browser, _) = browser_signed_in(&t, "ada").await;

    let me = send(&t, &browser, Method::GET, "/api/v1/me", &[], None).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["username"], "ada");
    // Reads of the person's own objects work the same way.
    let sessions = send(&t, &browser, Method::GET, "/api/v1/me/sessions", &[], None).await;
    sessions.assert(200, None);
    // Two sessions: the API sign-in of `new_user`, and the browser's, which
    // is the current one.
    let sessions = sessions.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    // Explicit credentials win over the cookie.
    let bearer = format!("Bearer {bob}");
    let me = send(
        &t,
        &browser,
        Method::GET,
        "/api/v1/me",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["username"], "bob");

    // The OpenAPI document says so for every route a session may call.
    let doc = t.get("/api/openapi.json", None).await.body;
    for (path, method) in [
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/teams", "post"),
    ] {
        let security = doc["paths"][path][method]["security"].as_array().unwrap();
        assert!(
            security.contains(&json!({ "cookie": [] })),
            "{method} {path}: {security:?}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["cookie"]["in"],
        "cookie"
    );
}

async fn changes_with_the_cookie_need_the_csrf_token(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let (browser, csrf) = browser_signed_in(&t, "ada").await;
    let edit = || Some(json!({ "display_name": "Countess" }));

    // A forged request carries the cookie but not the token.
    send(&t, &browser, Method::PATCH, "/api/v1/me", &[], edit())
        .await
        .assert(403, Some("csrf_failed"));
    let wrong = "0".repeat(csrf.len());
    send(
        &t,
        &browser,
        Method::PATCH,
        "/api/v1/me",
        &[("x-csrf-token", &wrong)],
        edit(),
    )
    .await
    .assert(403, Some("csrf_failed"));
    send(
        &t,
        &browser,
        Method::POST,
        "/api/v1/me/sessions/revoke-others",
        &[],
        Some(json!({})),
    )
    .await
    .assert(403, Some("csrf_failed"));
    // Nothing was changed.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_ne!(me.body["user"]["display_name"], "Countess");
    t.get("/api/v1/me", Some(&ada)).await.assert(200, None);

    // With the page's token it goes through.
    let changed = send(
        &t,
        &browser,
        Method::PATCH,
        "/api/v1/me",
        &[("x-csrf-token", &csrf)],
        edit(),
    )
    .await;
    changed.assert(200, None);
    assert_eq!(changed.body["user"]["display_name"], "Countess");

    // Bearer tokens need no CSRF token: a browser never sends them by itself.
    t.patch("/api/v1/me", Some(&ada), json!({ "bio": "Analyst" }))
        .await
        .assert(200, None);
}

async fn a_cookie_whose_sessions_ended_counts_as_none(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let (browser, csrf) = browser_signed_in(&t, "ada").await;

    // Signing out through the API with the cookie ends the browser's session.
    send(
        &t,
        &browser,
        Method::DELETE,
        "/api/v1/sessions/current",
        &[("x-csrf-token", &csrf)],
        None,
    )
    .await
    .assert(204, None);
    send(&t, &browser, Method::GET, "/api/v1/me", &[], None)
        .await
        .assert(401, Some("unauthenticated"));
    // Routes open to everyone still answer the browser as anyone else.
    send(
        &t,
        &browser,
        Method::POST,
        "/api/v1/password-resets",
        &[],
        Some(json!({ "email": "ada@example.com" })),
    )
    .await
    .assert(202, None);
}
