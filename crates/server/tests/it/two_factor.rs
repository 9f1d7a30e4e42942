//! Two-step verification (A10): setting up TOTP through the API and the
//! settings page, signing in with a code or a recovery code through the API
//! and the web page, each code used once, time moved with the test clock,
//! turning it off, and the operator's way out for a lost phone.

use crate::common::{Db, TestApp, PASSWORD};
use postroom_server::domain::operator::{self, By};
use serde_json::json;
use totp_rs::{Builder, Secret};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;

on_both_databases!(
    totp_is_set_up_with_a_code_and_then_asked_at_sign_in,
    each_code_and_recovery_code_signs_in_once,
    codes_follow_the_clock,
    turning_it_off_needs_the_password,
    the_web_sign_in_asks_for_the_code_on_a_page_of_its_own,
    the_settings_page_sets_it_up_and_shows_the_recovery_codes_once,
    the_operator_can_turn_it_off_for_a_lost_phone,
);

/// The code an authenticator app shows at the test clock's time.
fn code_at(secret: &str, now_ms: i64) -> String {
    let bytes = Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    Builder::new()
        .with_secret(bytes)
        .build()
        .unwrap()
        .generate((now_ms / SECOND) as u64)
        .to_string()
}

fn now(t: &TestApp) -> i64 {
    t.app.clock.now()
}

/// Turns TOTP on for the account of `token`; returns the secret and the
/// recovery codes.
async fn turn_on(t: &TestApp, token: &str) -> (String, Vec<String>) {
    let r = t.post("/api/v1/me/totp", Some(token), json!({})).await;
    r.assert(200, None);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let r = t
        .post(
            "/api/v1/me/totp/confirm",
            Some(token),
            json!({ "code": code_at(&secret, now(t)) }),
        )
        .await;
    r.assert(200, None);
    let codes = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // The code that confirmed it is spent: move on to the next step.
    t.clock.advance(30 * SECOND);
    (secret, codes)
}

async fn sign_in_with(t: &TestApp, extra: serde_json::Value) -> crate::common::Resp {
    let mut body = json!({ "login": "ada", "password": PASSWORD });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    t.post("/api/v1/sessions", None, body).await
}

async fn totp_is_set_up_with_a_code_and_then_asked_at_sign_in(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    let other = t.sign_in("ada", PASSWORD, false).await;

    let status = t.get("/api/v1/me/totp", Some(&token)).await;
    status.assert(200, None);
    assert_eq!(status.body["enabled"], false);

    // An API key cannot manage it.
    let key = t
        .post(
            "/api/v1/me/api-keys",
            Some(&token),
            json!({ "name": "ci", "scopes": ["read", "write"] }),
        )
        .await;
    key.assert(201, None);
    let key = key.body["key"].as_str().unwrap().to_owned();
    t.post("/api/v1/me/totp", Some(&key), json!({}))
        .await
        .assert(403, Some("session_required"));

    // Confirming before beginning says what to do.
    t.post(
        "/api/v1/me/totp/confirm",
        Some(&token),
        json!({ "code": "123456" }),
    )
    .await
    .assert(409, Some("two_factor_not_started"));

    let setup = t.post("/api/v1/me/totp", Some(&token), json!({})).await;
    setup.assert(200, None);
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    let url = setup.body["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}")), "{url}");
    assert!(url.contains("ada"), "{url}");
    // Nothing changes for sign-in until a code confirms it.
    sign_in_with(&t, json!({})).await.assert(201, None);

    // A wrong code is refused, and it stays off.
    let wrong = if code_at(&secret, now(&t)) == "000000" {
        "111111"
    } else {
        "000000"
    };
    t.post(
        "/api/v1/me/totp/confirm",
        Some(&token),
        json!({ "code": wrong }),
    )
    .await
    .assert(422, Some("invalid_two_factor_code"));
    assert_eq!(
        t.get("/api/v1/me/totp", Some(&token)).await.body["enabled"],
        false
    );

    let r = t
        .post(
            "/api/v1/me/totp/confirm",
            Some(&token),
            json!({ "code": code_at(&secret, now(&t)) }),
        )
        .await;
    r.assert(200, None);
    let codes = r.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);

    // The other sessions ended; this one goes on.
    t.get("/api/v1/me", Some(&other)).await.assert(401, None);
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    let status = t.get("/api/v1/me/totp", Some(&token)).await;
    assert_eq!(status.body["enabled"], true);
    assert_eq!(status.body["recovery_codes_left"], 10);
    // Beginning again while it is on is refused.
    t.post("/api/v1/me/totp", Some(&token), json!({}))
        .await
        .assert(409, Some("two_factor_enabled"));

    // The password alone no longer signs in; a wrong password still says
    // only that the login or password is wrong.
    sign_in_with(&t, json!({}))
        .await
        .assert(401, Some("two_factor_required"));
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": "not the password", "otp": "123456" }),
    )
    .await
    .assert(401, Some("invalid_credentials"));

    t.clock.advance(30 * SECOND);
    let r = sign_in_with(&t, json!({ "otp": code_at(&secret, now(&t)) })).await;
    r.assert(201, None);

    let mail = t
        .mail_to("ada@example.com", "Two-step verification is on")
        .await;
    assert!(mail.contains("other sessions were signed out"), "{mail}");
}

async fn each_code_and_recovery_code_signs_in_once(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    let (secret, codes) = turn_on(&t, &token).await;

    let code = code_at(&secret, now(&t));
    sign_in_with(&t, json!({ "otp": code }))
        .await
        .assert(201, None);
    // The same code again, within its 30 seconds: refused.
    sign_in_with(&t, json!({ "otp": code }))
        .await
        .assert(401, Some("invalid_two_factor_code"));
    // An earlier step's code after a later one was used: refused too.
    let earlier = code_at(&secret, now(&t) - 30 * SECOND);
    sign_in_with(&t, json!({ "otp": earlier }))
        .await
        .assert(401, Some("invalid_two_factor_code"));

    // A recovery code, typed in capitals and without its dash, works once.
    let typed = codes[0].replace('-', "").to_uppercase();
    sign_in_with(&t, json!({ "recovery_code": typed }))
        .await
        .assert(201, None);
    sign_in_with(&t, json!({ "recovery_code": codes[0] }))
        .await
        .assert(401, Some("invalid_two_factor_code"));
    sign_in_with(&t, json!({ "recovery_code": "not-a-code" }))
        .await
        .assert(401, Some("invalid_two_factor_code"));
    let status = t.get("/api/v1/me/totp", Some(&token)).await;
    assert_eq!(status.body["recovery_codes_left"], 9);
    let mail = t.mail_to("ada@example.com", "recovery code was used").await;
    assert!(mail.contains("You have 9 left"), "{mail}");

    // New codes (with the password) replace every old one.
    t.post(
        "/api/v1/me/totp/recovery-codes",
        Some(&token),
        json!({ "password": "wrong password" }),
    )
    .await
    .assert(422, Some("wrong_password"));
    let r = t
        .post(
            "/api/v1/me/totp/recovery-codes",
            Some(&token),
            json!({ "password": PASSWORD }),
        )
        .await;
    r.assert(200, None);
    let fresh = r.body["recovery_codes"][0].as_str().unwrap().to_owned();
    sign_in_with(&t, json!({ "recovery_code": codes[1] }))
        .await
        .assert(401, Some("invalid_two_factor_code"));
    sign_in_with(&t, json!({ "recovery_code": fresh }))
        .await
        .assert(201, None);
}

async fn codes_follow_the_clock(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    let (secret, _) = turn_on(&t, &token).await;
    // Well past the step of the code that turned it on.
    t.clock.advance(60 * SECOND);

    // A code from a phone whose clock is 30 s behind still works (one step
    // of skew); one from two minutes ago does not.
    let stale = code_at(&secret, now(&t) - 2 * MINUTE);
    if stale != code_at(&secret, now(&t)) && stale != code_at(&secret, now(&t) - 30 * SECOND) {
        sign_in_with(&t, json!({ "otp": stale }))
            .await
            .assert(401, Some("invalid_two_factor_code"));
    }
    let behind = code_at(&secret, now(&t) - 30 * SECOND);
    sign_in_with(&t, json!({ "otp": behind }))
        .await
        .assert(201, None);

    // An hour later, the code of that hour.
    t.clock.advance(60 * MINUTE);
    sign_in_with(&t, json!({ "otp": code_at(&secret, now(&t)) }))
        .await
        .assert(201, None);
}

async fn turning_it_off_needs_the_password(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    turn_on(&t, &token).await;

    let r = t
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me/totp",
            Some(&token),
            Some(json!({ "password": "wrong password" })),
        )
        .await;
    r.assert(422, Some("wrong_password"));
    let r = t
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me/totp",
            Some(&token),
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    r.assert(204, None);
    sign_in_with(&t, json!({})).await.assert(201, None);
    let r = t
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me/totp",
            Some(&token),
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    r.assert(409, Some("two_factor_off"));
    let mail = t
        .mail_to("ada@example.com", "Two-step verification is off")
        .await;
    assert!(mail.contains("password only"), "{mail}");
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the hidden or text field `name` in a page.
fn field_value(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn get_page(t: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
    let r = b.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form; the status, `Location` and body.
async fn post_form(
    t: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let r = b.post(t.url(path)).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    assert!(status < 500, "{path} answered {status}");
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Signs in on the web page; the page that answers (the second step).
async fn web_password(t: &TestApp, b: &reqwest::Client, next: &str) -> String {
    let (_, page) = get_page(t, b, "/sign-in").await;
    let csrf = field_value(&page, "csrf");
    let (status, _, page) = post_form(
        t,
        b,
        "/sign-in",
        &[
            ("csrf", &csrf),
            ("login", "ada"),
            ("password", PASSWORD),
            ("next", next),
        ],
    )
    .await;
    assert_eq!(status, 200, "the second step is a page, not a redirect");
    assert!(page.contains("Two-step verification"), "{page}");
    page
}

async fn the_web_sign_in_asks_for_the_code_on_a_page_of_its_own(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    let (secret, codes) = turn_on(&t, &token).await;

    // The password alone does not sign the browser in: the page asks for
    // the code, and carries a challenge instead of the password.
    let b = browser();
    let page = web_password(&t, &b, "/settings/sessions").await;
    assert!(!page.contains(PASSWORD));
    let challenge = field_value(&page, "challenge");
    let csrf = field_value(&page, "csrf");
    assert_eq!(get_page(&t, &b, "/settings/sessions").await.0, 303);

    // A wrong code shows the page again with a message.
    let (status, _, page) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &[
            ("csrf", &csrf),
            ("challenge", &challenge),
            ("code", "12345x"),
            ("next", "/settings/sessions"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(page.contains("That code is not right"), "{page}");

    // The right code signs in and goes on to `next` (as a program's
    // browser sign-in does, through /oauth/authorize).
    let code = code_at(&secret, now(&t));
    let (status, location, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &[
            ("csrf", &csrf),
            ("challenge", &challenge),
            ("code", &code),
            ("next", "/settings/sessions"),
        ],
    )
    .await;
    // (By way of onboarding, which this new account has not done yet.)
    assert_eq!(
        (status, location.as_str()),
        (303, "/welcome?next=%2Fsettings%2Fsessions")
    );
    assert_eq!(get_page(&t, &b, "/settings/sessions").await.0, 200);
    // The challenge was spent.
    let (status, location, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &[
            ("csrf", &csrf),
            ("challenge", &challenge),
            ("code", &codes[0]),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/sign-in?flash=sign_in_expired"),
        "{location}"
    );

    // A recovery code works on the page too.
    let b = browser();
    let page = web_password(&t, &b, "/").await;
    let (status, _, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &[
            ("csrf", &field_value(&page, "csrf")),
            ("challenge", &field_value(&page, "challenge")),
            ("code", &codes[0]),
        ],
    )
    .await;
    assert_eq!(status, 303);

    // A challenge lasts five minutes.
    let b = browser();
    let page = web_password(&t, &b, "/").await;
    t.clock.advance(6 * MINUTE);
    let (status, location, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &[
            ("csrf", &field_value(&page, "csrf")),
            ("challenge", &field_value(&page, "challenge")),
            ("code", &code_at(&secret, now(&t))),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/sign-in?flash=sign_in_expired"),
        "{location}"
    );

    // And takes five wrong codes at most.
    let b = browser();
    let page = web_password(&t, &b, "/").await;
    let fields = |code: &'static str| {
        vec![
            ("csrf", field_value(&page, "csrf")),
            ("challenge", field_value(&page, "challenge")),
            ("code", code.to_owned()),
        ]
    };
    for _ in 0..4 {
        let (status, _, _) = post_form(
            &t,
            &b,
            "/sign-in/two-step",
            &fields("zzzzz-zzzzz")
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, location, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &fields("zzzzz-zzzzz")
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/sign-in?flash=sign_in_expired"),
        "{location}"
    );
    t.clock.advance(30 * SECOND);
    let right: Vec<(&str, String)> = vec![
        ("csrf", field_value(&page, "csrf")),
        ("challenge", field_value(&page, "challenge")),
        ("code", code_at(&secret, now(&t))),
    ];
    let (status, location, _) = post_form(
        &t,
        &b,
        "/sign-in/two-step",
        &right
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/sign-in?flash=sign_in_expired"),
        "an ended challenge takes no code, even the right one: {location}"
    );
}

async fn the_settings_page_sets_it_up_and_shows_the_recovery_codes_once(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let b = browser();
    let (_, page) = get_page(&t, &b, "/sign-in").await;
    let (status, _, _) = post_form(
        &t,
        &b,
        "/sign-in",
        &[
            ("csrf", &field_value(&page, "csrf")),
            ("login", "ada"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 303);

    let (status, page) = get_page(&t, &b, "/settings/two-step").await;
    assert_eq!(status, 200);
    assert!(page.contains("Set up two-step verification"), "{page}");
    let csrf = field_value(&page, "csrf");
    let (status, _, page) = post_form(&t, &b, "/settings/two-step/begin", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(page.contains("<svg"), "the QR code is on the page");
    let marker = r#"<code class="secret-key">"#;
    let start = page.find(marker).unwrap() + marker.len();
    let secret = page[start..start + page[start..].find('<').unwrap()].to_owned();

    // A wrong code shows the same secret again.
    let (status, _, page) = post_form(
        &t,
        &b,
        "/settings/two-step/confirm",
        &[("csrf", &csrf), ("code", "abcdef")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains(&secret));

    let (status, _, page) = post_form(
        &t,
        &b,
        "/settings/two-step/confirm",
        &[("csrf", &csrf), ("code", &code_at(&secret, now(&t)))],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Your recovery codes"));
    assert_eq!(page.matches("<li><code>").count(), 10);
    // Shown once: the page afterwards says how many are left, not which.
    let (_, page) = get_page(&t, &b, "/settings/two-step").await;
    assert!(!page.contains("<li><code>"));
    assert!(
        page.contains("<strong>10</strong> unused recovery codes"),
        "{page}"
    );

    // Turning it off from the page needs the password.
    let (status, _, page) = post_form(
        &t,
        &b,
        "/settings/two-step/disable",
        &[("csrf", &csrf), ("password", "wrong password")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("the password is not correct")
            || page.contains("The password is not correct")
    );
    let (status, location, _) = post_form(
        &t,
        &b,
        "/settings/two-step/disable",
        &[("csrf", &csrf), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/settings/two-step?flash=two_factor_off")
    );
    sign_in_with(&t, json!({})).await.assert(201, None);
}

async fn the_operator_can_turn_it_off_for_a_lost_phone(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let token = t.sign_in("ada", PASSWORD, false).await;
    turn_on(&t, &token).await;
    sign_in_with(&t, json!({}))
        .await
        .assert(401, Some("two_factor_required"));
    let rows = operator::accounts(&t.app, "ada", "").await.unwrap();
    assert_eq!(rows[0].two_factor, 1);

    operator::turn_off_two_factor(&t.app, &By::CommandLine, "ada")
        .await
        .unwrap();
    sign_in_with(&t, json!({})).await.assert(201, None);
    let again = operator::turn_off_two_factor(&t.app, &By::CommandLine, "ada").await;
    assert_eq!(again.unwrap_err().code(), "two_factor_off");
    let log = operator::audit_log(&t.app, "").await.unwrap();
    assert!(log.iter().any(|e| e.action == "two_factor_off"));
    t.mail_to("ada@example.com", "Two-step verification is off")
        .await;
}

/// As a new user tries it: turn it on in the settings with an
/// authenticator app, sign out, sign in again with a code; in Chromium,
/// with screenshots of the last page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_verification_in_the_browser() {
    use crate::common::browser::run;
    use fantoccini::Locator;
    run(
        "two_step_verification_in_the_browser",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.goto("/settings").await;
            b.follow("Two-step verification").await;
            b.press("Set up two-step verification").await;
            b.expect_text("Set up your authenticator app").await;
            let qr =
                b.c.find(Locator::Css(".qr svg"))
                    .await
                    .expect("the QR code");
            assert!(qr.is_displayed().await.unwrap());
            if let Some(png) = b.screenshot().await {
                let dir = crate::common::browser::screenshot_dir();
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("two_step_verification_setup.png"), png).unwrap();
            }
            let secret =
                b.c.find(Locator::Css("code.secret-key"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
            b.fill("Code from the app", &code_at(&secret, w.t.app.clock.now()))
                .await;
            b.press("Turn on two-step verification").await;
            b.expect_text("Your recovery codes").await;
            let codes =
                b.c.find_all(Locator::Css(".recovery-codes code"))
                    .await
                    .unwrap();
            assert_eq!(codes.len(), 10);
            let recovery = codes[0].text().await.unwrap();
            b.follow("I have saved them").await;
            b.expect_text("unused recovery codes").await;

            b.sign_out().await;
            w.t.clock.advance(30 * SECOND);
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Two-step verification").await;
            let now = w.t.app.clock.now();
            let wrong = if code_at(&secret, now) == "000000" {
                "111111"
            } else {
                "000000"
            };
            b.fill("Code", wrong).await;
            b.press("Verify and sign in").await;
            b.expect_text("That code is not right").await;
            b.fill("Code", &code_at(&secret, w.t.app.clock.now())).await;
            b.press("Verify and sign in").await;
            b.expect_heading("Hello, Ada Lovelace").await;

            // A recovery code in another browser.
            let other = w.browser().await;
            other.sign_in("ada", PASSWORD, false).await;
            other.expect_heading("Two-step verification").await;
            other.fill("Code", &recovery).await;
            other.press("Verify and sign in").await;
            other.expect_heading("Hello, Ada Lovelace").await;
            b.goto("/settings/two-step").await;
            b.expect_text("9").await;
        },
    )
    .await;
}
