//! Signing in and sessions (A4, P6) and anti-abuse (A9), on SQLite and
//! PostgreSQL. Time is moved with the test clock.

use crate::common::{unfold, Db, Resp, TestApp, PASSWORD};
use postroom_core::api::CaptchaChallenge;
use postroom_server::config::CaptchaMode;
use postroom_server::domain::captcha::Captcha;
use serde_json::json;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;

on_both_databases!(
    sign_in_by_email_or_username,
    wrong_login_or_password_is_one_generic_error,
    idle_sessions_end_after_thirty_minutes,
    kept_sessions_last_thirty_days,
    kept_sessions_end_after_seven_idle_days,
    sessions_end_twelve_hours_after_sign_in_however_active,
    sessions_are_listed_and_revocable,
    sign_out_ends_only_this_session,
    sign_in_is_rate_limited_per_account_and_per_ip,
    captcha_is_asked_when_limits_are_approached,
    captcha_can_be_always_required,
    repeated_failures_lock_the_account_for_a_while,
    locks_grow_only_up_to_the_configured_time,
    the_reset_link_in_the_lock_mail_ends_the_lock,
    sign_in_pages_follow_only_local_paths,
);

async fn sign_in_by_email_or_username(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.com"] {
        let r = t
            .post(
                "/api/v1/sessions",
                None,
                json!({ "login": login, "password": PASSWORD }),
            )
            .await;
        r.assert(201, None);
        assert!(r.body["token"].as_str().unwrap().starts_with("prs_"));
        assert_eq!(r.body["user"]["username"], "ada");
        assert_eq!(r.body["session"]["current"], true);
        assert_eq!(r.body["session"]["keep_signed_in"], false);
    }
    let token = t.sign_in("ada", PASSWORD, true).await;
    let me = t.get("/api/v1/me", Some(&token)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["email"], "ada@example.com");
}

async fn wrong_login_or_password_is_one_generic_error(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let wrong_password = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": "not the password" }),
        )
        .await;
    let no_account = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "nobody", "password": "not the password" }),
        )
        .await;
    let empty = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "", "password": "" }),
        )
        .await;
    for r in [&wrong_password, &no_account, &empty] {
        r.assert(401, Some("invalid_credentials"));
    }
    assert_eq!(wrong_password.body, no_account.body);
    t.post("/api/v1/sessions", None, json!({ "login": "ada" }))
        .await
        .assert(422, Some("invalid_body"));
}

async fn idle_sessions_end_after_thirty_minutes(db: Db) {
    let t = TestApp::spawn(db).await;
    let token = t.new_user("ada").await;
    // Activity keeps the session alive...
    for _ in 0..3 {
        t.clock.advance(29 * MINUTE);
        t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    }
    // ...and 30 minutes without any ends it.
    t.clock.advance(30 * MINUTE);
    t.get("/api/v1/me", Some(&token))
        .await
        .assert(401, Some("unauthenticated"));
    let list = t
        .get(
            "/api/v1/me/sessions",
            Some(&t.sign_in("ada", PASSWORD, false).await),
        )
        .await;
    assert_eq!(
        list.body["sessions"].as_array().unwrap().len(),
        1,
        "the expired session is not listed"
    );
}

async fn kept_sessions_last_thirty_days(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let kept = t.sign_in("ada", PASSWORD, true).await;
    // Idle for longer than 30 minutes: still signed in.
    t.clock.advance(6 * 60 * MINUTE);
    t.get("/api/v1/me", Some(&kept)).await.assert(200, None);
    // Used every few days, it lasts...
    for _ in 0..4 {
        t.clock.advance(6 * DAY);
        t.get("/api/v1/me", Some(&kept)).await.assert(200, None);
    }
    t.clock.advance(5 * DAY);
    t.get("/api/v1/me", Some(&kept)).await.assert(200, None);
    // ...but activity does not extend it past 30 days from sign-in.
    t.clock.advance(DAY - 6 * 60 * MINUTE);
    t.get("/api/v1/me", Some(&kept))
        .await
        .assert(401, Some("unauthenticated"));
}

async fn kept_sessions_end_after_seven_idle_days(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let kept = t.sign_in("ada", PASSWORD, true).await;
    t.clock.advance(6 * DAY);
    t.get("/api/v1/me", Some(&kept)).await.assert(200, None);
    t.clock.advance(7 * DAY - MINUTE);
    t.get("/api/v1/me", Some(&kept)).await.assert(200, None);
    t.clock.advance(7 * DAY);
    t.get("/api/v1/me", Some(&kept))
        .await
        .assert(401, Some("unauthenticated"));
}

async fn sessions_end_twelve_hours_after_sign_in_however_active(db: Db) {
    let t = TestApp::spawn(db).await;
    let token = t.new_user("ada").await;
    // Used every 29 minutes, a session without "keep me signed in" still
    // ends 12 hours after it began.
    for _ in 0..24 {
        t.clock.advance(29 * MINUTE);
        t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    }
    t.clock
        .advance(12 * 60 * MINUTE - 24 * 29 * MINUTE - MINUTE);
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    t.clock.advance(MINUTE);
    t.get("/api/v1/me", Some(&token))
        .await
        .assert(401, Some("unauthenticated"));
}

async fn sessions_are_listed_and_revocable(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.sign_in("ada", PASSWORD, true).await;
    let c = t.sign_in("ada", PASSWORD, false).await;
    let list = t.get("/api/v1/me/sessions", Some(&a)).await;
    list.assert(200, None);
    let sessions = list.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for s in &sessions {
        assert_eq!(s["ip"], "127.0.0.1");
        assert!(s["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("postroom-tests"));
        assert!(s["device"].as_str().unwrap().contains("Linux"));
        assert!(s["created_at"].is_string() && s["last_active_at"].is_string());
    }
    // Revoke b's session from a.
    let b_id = t.get("/api/v1/me/sessions", Some(&b)).await.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.delete(&format!("/api/v1/me/sessions/{b_id}"), Some(&a))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&b))
        .await
        .assert(401, Some("unauthenticated"));
    t.delete(&format!("/api/v1/me/sessions/{b_id}"), Some(&a))
        .await
        .assert(404, Some("not_found"));
    t.delete("/api/v1/me/sessions/no-such-session", Some(&a))
        .await
        .assert(404, Some("not_found"));
    // Revoke all others: c goes, a stays.
    let r = t
        .post("/api/v1/me/sessions/revoke-others", Some(&a), json!({}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["revoked"], 1);
    t.get("/api/v1/me", Some(&c))
        .await
        .assert(401, Some("unauthenticated"));
    t.get("/api/v1/me", Some(&a)).await.assert(200, None);
}

async fn sign_out_ends_only_this_session(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.sign_in("ada", PASSWORD, false).await;
    t.delete("/api/v1/sessions/current", Some(&a))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&a))
        .await
        .assert(401, Some("unauthenticated"));
    t.delete("/api/v1/sessions/current", Some(&a))
        .await
        .assert(401, Some("unauthenticated"));
    t.get("/api/v1/me", Some(&b)).await.assert(200, None);
}

async fn sign_in_is_rate_limited_per_account_and_per_ip(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    // Ten attempts per account in five minutes, right or wrong; signing up
    // and in took the first.
    for _ in 0..9 {
        t.post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": "wrong" }),
        )
        .await
        .assert(401, Some("invalid_credentials"));
    }
    let r = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": PASSWORD }),
        )
        .await;
    r.assert(429, Some("rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "retry after {retry}");
    // Another account from the same address is not blocked yet...
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "someone-else", "password": "wrong" }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    // ...and after the window the account can sign in again.
    t.clock.advance(5 * MINUTE);
    t.sign_in("ada", PASSWORD, false).await;
    // Sixty attempts per address in five minutes, whatever the account.
    t.clock.advance(5 * MINUTE);
    for i in 0..60 {
        t.post(
            "/api/v1/sessions",
            None,
            json!({ "login": format!("user{i}"), "password": "wrong" }),
        )
        .await
        .assert(401, None);
    }
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "fresh", "password": "wrong" }),
    )
    .await
    .assert(429, Some("rate_limited"));
}

async fn solve(t: &TestApp) -> String {
    let r = t.get("/api/v1/captcha", None).await;
    r.assert(200, None);
    let challenge: CaptchaChallenge = serde_json::from_value(r.body).unwrap();
    Captcha::solve(&challenge).expect("the challenge is solvable")
}

async fn captcha_is_asked_when_limits_are_approached(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.captcha = CaptchaMode::Auto;
        c.captcha_difficulty = 1_000;
    })
    .await;
    t.new_user("ada").await;
    // The first half of the per-account limit needs no captcha; signing up
    // and in took the first attempt.
    for _ in 0..4 {
        t.post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": "wrong" }),
        )
        .await
        .assert(401, Some("invalid_credentials"));
    }
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD }),
    )
    .await
    .assert(403, Some("captcha_required"));
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD, "captcha": "junk" }),
    )
    .await
    .assert(403, Some("captcha_invalid"));
    let solution = solve(&t).await;
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD, "captcha": solution }),
    )
    .await
    .assert(201, None);
    // A solution works once.
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD, "captcha": solution }),
    )
    .await
    .assert(403, Some("captcha_invalid"));
    // An expired challenge is refused.
    let stale = solve(&t).await;
    t.clock.advance(11 * MINUTE);
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": "wrong" }),
    )
    .await
    .assert(401, None);
    for _ in 0..5 {
        t.post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": "wrong" }),
        )
        .await;
    }
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD, "captcha": stale }),
    )
    .await
    .assert(403, Some("captcha_invalid"));
}

async fn captcha_can_be_always_required(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.captcha = CaptchaMode::Always;
        c.captcha_difficulty = 1_000;
    })
    .await;
    let body = json!({ "email": "ada@example.com", "username": "ada", "password": PASSWORD, "accept_terms": true });
    t.post("/api/v1/accounts", None, body.clone())
        .await
        .assert(403, Some("captcha_required"));
    let mut with = body.clone();
    with["captcha"] = json!(solve(&t).await);
    t.post("/api/v1/accounts", None, with)
        .await
        .assert(201, None);
    // Following a mailed link needs no captcha.
    let token = t.link_token("ada@example.com", "/verify-email").await;
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(200, None);
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(403, Some("captcha_required"));
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com", "captcha": solve(&t).await }),
    )
    .await
    .assert(202, None);
}

async fn fail_sign_in(t: &TestApp, login: &str, password: &str) -> Resp {
    let r = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": login, "password": password }),
        )
        .await;
    r.assert(401, Some("invalid_credentials"));
    r
}

async fn repeated_failures_lock_the_account_for_a_while(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.lockout_threshold = 3;
        c.lockout_minutes = 15;
        // The per-account rate limit would answer first.
        c.rate_limits = false;
    })
    .await;
    t.new_user("ada").await;
    for _ in 0..3 {
        fail_sign_in(&t, "ada", "wrong").await;
    }
    // Locked: even the right password gets the answer an unknown login
    // gets, so the lock tells nobody that the account exists.
    let locked = fail_sign_in(&t, "ada", PASSWORD).await;
    let unknown = fail_sign_in(&t, "nobody-here", PASSWORD).await;
    assert_eq!(locked.body, unknown.body);
    assert_eq!(
        locked.headers.get("retry-after"),
        unknown.headers.get("retry-after")
    );
    // The owner is told, once.
    let mail = t.mail_to("ada@example.com", "are paused").await;
    assert!(unfold(&mail).contains("3 times in a row"), "{mail}");
    // The first lock is short; when it ends, the count starts again: one
    // more wrong password does not lock the account again.
    t.clock.advance(MINUTE);
    fail_sign_in(&t, "ada", "wrong").await;
    t.sign_in("ada", PASSWORD, false).await;
    // Each lock in a row lasts twice as long as the one before: 1, 2, then
    // 4 minutes.
    for minutes in [1, 2, 4] {
        for _ in 0..3 {
            fail_sign_in(&t, "ada", "wrong").await;
        }
        t.clock.advance(minutes * MINUTE - SECOND);
        fail_sign_in(&t, "ada", PASSWORD).await;
        t.clock.advance(SECOND);
    }
    t.sign_in("ada", PASSWORD, false).await;
    // A success ends the run of locks: the next lock is short again.
    for _ in 0..3 {
        fail_sign_in(&t, "ada", "wrong").await;
    }
    t.clock.advance(MINUTE);
    t.sign_in("ada", PASSWORD, false).await;
    t.mail_settled().await;
    let lock_mails = t
        .mails_to("ada@example.com")
        .iter()
        .filter(|m| m.contains("are paused"))
        .count();
    assert_eq!(lock_mails, 5);
}

async fn locks_grow_only_up_to_the_configured_time(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.lockout_threshold = 2;
        c.lockout_minutes = 3;
        c.rate_limits = false;
    })
    .await;
    t.new_user("ada").await;
    for minutes in [1, 2, 3, 3] {
        for _ in 0..2 {
            fail_sign_in(&t, "ada", "wrong").await;
        }
        t.clock.advance(minutes * MINUTE - SECOND);
        fail_sign_in(&t, "ada", PASSWORD).await;
        t.clock.advance(SECOND);
    }
    t.sign_in("ada", PASSWORD, false).await;
}

async fn the_reset_link_in_the_lock_mail_ends_the_lock(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.lockout_threshold = 3;
        c.lockout_minutes = 60;
        c.rate_limits = false;
    })
    .await;
    t.new_user("ada").await;
    for _ in 0..6 {
        // The failures during the lock count for nothing.
        fail_sign_in(&t, "ada", "wrong").await;
    }
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(200, None);
    t.sign_in("ada", "a brand new passphrase", false).await;
}

/// Two nodes on one PostgreSQL database: a session revoked or an account
/// changed through one node stops being served from the other's cache at
/// once (the nodes' clocks stand still, so only the notification can do it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_every_node() {
    if crate::common::postgres_url().is_none() {
        crate::common::skip(
            "sessions::changes_reach_every_node",
            "set POSTROOM_TEST_DATABASE_URL to run it on PostgreSQL",
        );
        return;
    }
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.spawn_node().await;
    for node in [&a, &b] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !node.app.store.cache().is_enabled() {
            assert!(
                std::time::Instant::now() < deadline,
                "the node never listened"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let kept = a.new_user("ada").await;
    let revoked = a.sign_in("ada", PASSWORD, false).await;
    for token in [&kept, &revoked] {
        b.get("/api/v1/me", Some(token)).await.assert(200, None);
    }

    a.delete("/api/v1/sessions/current", Some(&revoked))
        .await
        .assert(204, None);
    eventually(|| async { b.get("/api/v1/me", Some(&revoked)).await.status.as_u16() == 401 }).await;

    a.patch(
        "/api/v1/me",
        Some(&kept),
        json!({ "display_name": "Ada L." }),
    )
    .await
    .assert(200, None);
    eventually(|| async {
        b.get("/api/v1/me", Some(&kept)).await.body["user"]["display_name"] == "Ada L."
    })
    .await;

    // Events recorded through node A reach a listener on node B's hub with
    // a short poll interval out of the way: the notification carries them.
    let ada = a.get("/api/v1/me", Some(&kept)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scope = format!("user:{ada}");
    let mut listener = b.app.store.hub().subscribe_with(
        std::slice::from_ref(&scope),
        std::collections::HashMap::new(),
        postroom_server::hub::QUEUE,
        std::time::Duration::from_secs(3600),
    );
    let news = tokio::spawn({
        let store = b.app.store.clone();
        async move { listener.next(&store).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    a.post(
        "/api/v1/me/password",
        Some(&kept),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    let events = tokio::time::timeout(std::time::Duration::from_secs(3), news)
        .await
        .expect("node B hears of node A's event within 3 s")
        .unwrap();
    assert_eq!(
        events
            .events
            .iter()
            .map(|e| e.kind.as_str())
            .collect::<Vec<_>>(),
        ["password_changed"]
    );
    b.stop().await;
    a.stop().await;
}

/// Waits up to 3 s (well under the cache's own 10 s bound) for `check`.
async fn eventually<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the other node still serves the old state"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A browser: keeps cookies, follows no redirect.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The status and `Location` of a response, which must not be a 5xx.
fn redirect_of(r: &reqwest::Response, what: &str) -> (u16, String) {
    assert!(
        !r.status().is_server_error(),
        "{what} answered {}",
        r.status()
    );
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

/// The CSRF token of the form on the page at `path`.
async fn form_csrf(t: &TestApp, browser: &reqwest::Client, path: &str) -> String {
    let page = browser.get(t.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{path}");
    let page = page.text().await.unwrap();
    let start = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// `next` is followed only to a path of this site: a tab or line break
/// (which browsers drop, making `/\t/host` into `//host`) sends the browser
/// to `/` instead of another host, and never fails the request.
async fn sign_in_pages_follow_only_local_paths(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let signed_in = browser();
    let csrf = form_csrf(&t, &signed_in, "/sign-in").await;
    let r = signed_in
        .post(t.url("/sign-in"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "ada"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(redirect_of(&r, "signing in"), (303, "/welcome".to_owned()));
    let bad = ["/\t/evil.example", "/\n/evil.example", "/\x0b/evil.example"];
    let r = signed_in
        .post(t.url("/welcome"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "skip"),
            ("next", bad[0]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(redirect_of(&r, "onboarding"), (303, "/".to_owned()));

    for (next, encoded) in bad.into_iter().zip([
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0B/evil.example",
    ]) {
        // Signed in, the sign-in page sends the browser on at once.
        let r = signed_in
            .get(t.url(&format!("/sign-in?next={encoded}")))
            .send()
            .await
            .unwrap();
        assert_eq!(redirect_of(&r, encoded), (303, "/".to_owned()), "{encoded}");

        // Signed out, the page does not carry it to the form, nor the form further.
        let fresh = browser();
        let page = fresh
            .get(t.url(&format!("/sign-in?next={encoded}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{encoded}");
        let page = page.text().await.unwrap();
        assert!(!page.contains("evil.example"), "{encoded}");
        let csrf = form_csrf(&t, &fresh, "/sign-in").await;
        let r = fresh
            .post(t.url("/sign-in"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("login", "ada"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(redirect_of(&r, encoded), (303, "/".to_owned()), "{encoded}");
    }

    // A page that needs someone signed in sends others to sign in, and back.
    let r = browser()
        .get(t.url("/settings/profile?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        redirect_of(&r, "a page for the signed-in"),
        (
            303,
            "/sign-in?next=%2Fsettings%2Fprofile%3Fx%3D1".to_owned()
        )
    );
    t.stop().await;
}
