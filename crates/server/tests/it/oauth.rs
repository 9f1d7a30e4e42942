//! Browser sign-in for programs (A5): the authorization server's metadata,
//! the device flow (through the API and through the `/device` page), the
//! authorization code flow with PKCE through the pages with a cookie
//! client, and the session both give. On SQLite and PostgreSQL; time is
//! moved with the test clock.

use crate::common::{Db, Resp, TestApp, PASSWORD};
use crate::cookie_auth::browser_signed_in;
use postroom_server::domain::actor::Actor;
use reqwest::{Client, Method};
use serde_json::{json, Value};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;

on_both_databases!(
    metadata_names_the_endpoints,
    device_flow_from_pending_to_a_listed_session,
    an_unused_device_code_expires,
    approving_by_code_is_for_sessions_and_guesses_are_limited,
    the_device_page_approves_and_denies,
    code_flow_through_the_pages,
    a_replayed_or_late_code_gives_nothing,
    redirects_other_than_loopback_are_refused_on_a_page,
    other_bad_requests_go_back_to_the_program,
    signed_out_people_sign_in_first_and_come_back,
    revoking_the_session_or_changing_the_password_ends_it,
    token_requests_are_checked,
);

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 7636, appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "http://127.0.0.1:53123/callback";

/// A form-encoded POST, as programs call the OAuth endpoints.
async fn form_post(t: &TestApp, path: &str, form: &[(&str, &str)]) -> Resp {
    let r = t.client.post(t.url(path)).form(form).send().await.unwrap();
    TestApp::read(r).await
}

/// The RFC error code of an OAuth error answer.
fn oauth_error(r: &Resp) -> &str {
    r.body["error"].as_str().unwrap_or("<no error>")
}

#[track_caller]
fn assert_refused(r: &Resp, error: &str) {
    assert_eq!(
        (r.status.as_u16(), oauth_error(r)),
        (400, error),
        "body: {}",
        r.body
    );
    assert_eq!(r.headers["cache-control"], "no-store");
}

/// Starts a device sign-in of the CLI on `device`; its answer.
async fn start_device(t: &TestApp, device: &str) -> Value {
    let r = form_post(
        t,
        "/oauth/device",
        &[("client_id", "postroom-cli"), ("device_name", device)],
    )
    .await;
    r.assert(200, None);
    r.body
}

async fn poll(t: &TestApp, device_code: &str) -> Resp {
    form_post(
        t,
        "/oauth/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", "postroom-cli"),
        ],
    )
    .await
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// A device signed in through the API by the person signed in with
/// `approver`: its access token.
async fn device_token(t: &TestApp, approver: &str, device: &str) -> String {
    let started = start_device(t, device).await;
    t.post(
        "/api/v1/device-authorizations/approve",
        Some(approver),
        json!({ "user_code": str_of(&started, "user_code") }),
    )
    .await
    .assert(200, None);
    let r = poll(t, str_of(&started, "device_code")).await;
    r.assert(200, None);
    str_of(&r.body, "access_token").to_owned()
}

/// The device names of the sessions listed to `token`, the current one first.
async fn session_devices(t: &TestApp, token: &str) -> Vec<(String, bool)> {
    let r = t.get("/api/v1/me/sessions", Some(token)).await;
    r.assert(200, None);
    let mut list: Vec<(String, bool)> = r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (str_of(s, "device").to_owned(), s["current"] == true))
        .collect();
    list.sort_by_key(|(_, current)| !current);
    list
}

/// Opens the sync socket with `token` and reads until it says it caught up.
async fn sync_socket_opens(t: &TestApp, token: &str) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let url = t.url("/api/v1/sync").replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("the socket opens");
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a message");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "synced" {
                return;
            }
        }
    }
}

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in the page:\n{page}"))
        + start.len();
    let len = page[from..].find(end).expect("the value ends");
    &page[from..from + len]
}

fn authorize_path(redirect_uri: &str, state: &str, device: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "postroom-cli")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", state)
        .append_pair("device_name", device)
        .finish();
    format!("/oauth/authorize?{query}")
}

struct Page {
    status: u16,
    location: Option<String>,
    csp: String,
    html: String,
}

async fn browse(
    t: &TestApp,
    browser: &Client,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
) -> Page {
    let mut req = browser.request(method, t.url(path));
    if !form.is_empty() {
        req = req.form(form);
    }
    let r = req.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (location, csp) = (header("location"), header("content-security-policy"));
    Page {
        status: r.status().as_u16(),
        location,
        csp: csp.unwrap_or_default(),
        html: r.text().await.unwrap(),
    }
}

/// The consent page of `path` and what its form sends back: the CSRF
/// token and the request's id.
async fn consent(t: &TestApp, browser: &Client, path: &str) -> (Page, String, String) {
    let page = browse(t, browser, Method::GET, path, &[]).await;
    assert_eq!(page.status, 200, "{path}: {}", page.html);
    let csrf = between(&page.html, r#"name="csrf" value=""#, "\"").to_owned();
    let request = between(&page.html, r#"name="request" value=""#, "\"").to_owned();
    (page, csrf, request)
}

/// An attribute's value as the page wrote it, read back.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A query parameter of a URL.
fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Approves the code flow's consent at `path`: the code it sends back.
async fn approve_code(t: &TestApp, browser: &Client, path: &str) -> String {
    let (_, csrf, request) = consent(t, browser, path).await;
    let r = browse(
        t,
        browser,
        Method::POST,
        "/oauth/authorize",
        &[
            ("csrf", &csrf),
            ("request", &request),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let location = r.location.expect("a redirect");
    param(&location, "code").expect("a code")
}

async fn exchange(
    t: &TestApp,
    code: &str,
    redirect_uri: &str,
    client_id: &str,
    verifier: &str,
) -> Resp {
    form_post(
        t,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn metadata_names_the_endpoints(db: Db) {
    let t = TestApp::spawn(db).await;
    let r = t.get("/.well-known/oauth-authorization-server", None).await;
    r.assert(200, None);
    let base = &t.base;
    assert_eq!(
        r.body,
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "device_authorization_endpoint": format!("{base}/oauth/device"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", DEVICE_GRANT],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        })
    );
    // Absolute URLs come from the configured public URL.
    let t2 = TestApp::spawn_with(db, |c| {
        c.public_url = Some("https://postroom.example.com/".into())
    })
    .await;
    let r = t2
        .get("/.well-known/oauth-authorization-server", None)
        .await;
    assert_eq!(r.body["issuer"], "https://postroom.example.com");
    assert_eq!(
        r.body["token_endpoint"],
        "https://postroom.example.com/oauth/token"
    );
    let started = start_device(&t2, "x").await;
    assert_eq!(
        started["verification_uri"],
        "https://postroom.example.com/device"
    );
    t2.stop().await;
    t.stop().await;
}

async fn device_flow_from_pending_to_a_listed_session(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = form_post(
        &t,
        "/oauth/device",
        &[
            ("client_id", "postroom-cli"),
            ("device_name", "ada-laptop"),
            ("scope", "anything"),
        ],
    )
    .await;
    r.assert(200, None);
    assert_eq!(r.headers["cache-control"], "no-store");
    let started = r.body;
    let user_code = str_of(&started, "user_code").to_owned();
    let device_code = str_of(&started, "device_code").to_owned();
    assert!(
        user_code.len() == 9
            && user_code.chars().enumerate().all(|(i, c)| if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }),
        "{user_code}"
    );
    assert_eq!(started["verification_uri"], t.url("/device"));
    assert_eq!(
        started["verification_uri_complete"],
        t.url(&format!("/device?user_code={user_code}"))
    );
    assert_eq!(
        (started["expires_in"].as_u64(), started["interval"].as_u64()),
        (Some(300), Some(5))
    );

    // Nobody approved yet; polling faster than the interval slows the
    // program down by 5 more seconds.
    assert_refused(&poll(&t, &device_code).await, "authorization_pending");
    t.clock.advance(4 * SECOND);
    assert_refused(&poll(&t, &device_code).await, "slow_down");
    t.clock.advance(9 * SECOND);
    assert_refused(&poll(&t, &device_code).await, "slow_down");
    t.clock.advance(15 * SECOND);
    assert_refused(&poll(&t, &device_code).await, "authorization_pending");

    // Approved through the API, by the code in any case, with or without the dash.
    let typed = user_code.replace('-', "").to_lowercase();
    let r = t
        .post(
            "/api/v1/device-authorizations/approve",
            Some(&ada),
            json!({ "user_code": typed }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(
        r.body,
        json!({ "client_id": "postroom-cli", "device_name": "ada-laptop" })
    );

    let r = poll(&t, &device_code).await;
    r.assert(200, None);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.body["token_type"], "Bearer");
    // Kept signed in: 7 days without use, renewed while used.
    assert_eq!(r.body["expires_in"], 7 * 24 * 3600);
    let token = str_of(&r.body, "access_token").to_owned();
    assert!(token.starts_with("prs_"), "{token}");
    let me = t.get("/api/v1/me", Some(&token)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["username"], "ada");
    t.get("/api/v1/changes", Some(&token))
        .await
        .assert(200, None);
    sync_socket_opens(&t, &token).await;
    assert_eq!(
        session_devices(&t, &token).await[0],
        ("postroom CLI on ada-laptop".to_owned(), true)
    );
    // A new device: ada is told, as for any sign-in from one.
    let r = t.get("/api/v1/me/notifications", Some(&ada)).await;
    r.assert(200, None);
    assert!(
        r.body["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["message"]
                .as_str()
                .unwrap()
                .starts_with("New sign-in from postroom CLI on ada-laptop")),
        "{}",
        r.body
    );

    // Single use: the device code and the user code are spent.
    assert_refused(&poll(&t, &device_code).await, "invalid_grant");
    t.post(
        "/api/v1/device-authorizations/approve",
        Some(&ada),
        json!({ "user_code": user_code }),
    )
    .await
    .assert(409, Some("already_decided"));
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    t.stop().await;
}

async fn an_unused_device_code_expires(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let started = start_device(&t, "ada-laptop").await;
    let device_code = str_of(&started, "device_code");
    t.clock.advance(5 * MINUTE - SECOND);
    assert_refused(&poll(&t, device_code).await, "authorization_pending");
    t.clock.advance(SECOND);
    assert_refused(&poll(&t, device_code).await, "expired_token");
    t.post(
        "/api/v1/device-authorizations/approve",
        Some(&ada),
        json!({ "user_code": str_of(&started, "user_code") }),
    )
    .await
    .assert(400, Some("request_expired"));
    assert_refused(&poll(&t, device_code).await, "expired_token");
    t.stop().await;
}

async fn approving_by_code_is_for_sessions_and_guesses_are_limited(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let started = start_device(&t, "ada-laptop").await;
    let user_code = str_of(&started, "user_code");
    let approve = |auth: String, code: String| {
        let t = &t;
        async move {
            t.post(
                "/api/v1/device-authorizations/approve",
                Some(&auth),
                json!({ "user_code": code }),
            )
            .await
        }
    };
    // An API key may not make a session.
    let r = t
        .post("/api/v1/me/api-keys", Some(&ada), json!({ "name": "k" }))
        .await;
    r.assert(201, None);
    let key = str_of(&r.body, "key").to_owned();
    approve(key, user_code.to_owned())
        .await
        .assert(403, Some("session_required"));
    // Unknown and malformed codes are not found; each counts as a guess.
    let bob = t.new_user("bob").await;
    for code in ["BCDF-GHJK", "not a code", ""] {
        approve(bob.clone(), code.to_owned())
            .await
            .assert(404, Some("not_found"));
    }
    for _ in 3..20 {
        approve(bob.clone(), "ZZZZ-ZZZZ".to_owned())
            .await
            .assert(404, Some("not_found"));
    }
    // The 21st guess of the account within 15 minutes is refused, the
    // right code too.
    let r = approve(bob.clone(), user_code.to_owned()).await;
    r.assert(429, Some("rate_limited"));
    assert!(r.headers.contains_key("retry-after"));
    // Another account is not held back by bob's guesses.
    approve(ada.clone(), user_code.to_owned())
        .await
        .assert(200, None);
    assert_eq!(poll(&t, str_of(&started, "device_code")).await.status, 200);
    t.stop().await;
}

async fn the_device_page_approves_and_denies(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let (browser, csrf) = browser_signed_in(&t, "ada").await;

    // The complete verification link fills in the code; the person still
    // sends it.
    let started = start_device(&t, "ada-laptop").await;
    let user_code = str_of(&started, "user_code");
    let page = browse(
        &t,
        &browser,
        Method::GET,
        &format!("/device?user_code={user_code}"),
        &[],
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains(&format!(r#"value="{user_code}""#)),
        "{}",
        page.html
    );

    // A wrong code is said so on the page.
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device",
        &[("csrf", &csrf), ("user_code", "BCDF-GHJK")],
    )
    .await;
    assert_eq!(page.status, 404);
    assert!(
        page.html.contains("That code is not valid"),
        "{}",
        page.html
    );
    // Without the CSRF token nothing is looked up.
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device",
        &[("user_code", user_code)],
    )
    .await;
    assert_eq!(page.status, 403);

    // The consent page names the program, the device and the account.
    let typed = user_code.to_lowercase();
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device",
        &[("csrf", &csrf), ("user_code", &typed)],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.html);
    for shown in [
        "postroom CLI",
        "ada-laptop",
        "ada@example.com",
        "Approve",
        "Deny",
    ] {
        assert!(page.html.contains(shown), "{shown}: {}", page.html);
    }
    assert_refused(
        &poll(&t, str_of(&started, "device_code")).await,
        "authorization_pending",
    );
    let sent_code = between(&page.html, r#"name="user_code" value=""#, "\"").to_owned();
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device/decision",
        &[
            ("csrf", &csrf),
            ("user_code", &sent_code),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Device signed in"), "{}", page.html);
    let r = poll(&t, str_of(&started, "device_code")).await;
    r.assert(200, None);
    let token = str_of(&r.body, "access_token");
    t.get("/api/v1/me", Some(token)).await.assert(200, None);

    // Denied: the program is told, every time it asks.
    let started = start_device(&t, "<b>build-box</b>").await;
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device",
        &[
            ("csrf", &csrf),
            ("user_code", str_of(&started, "user_code")),
        ],
    )
    .await;
    assert_eq!(page.status, 200);
    // The device's name is the program's word: shown, never as markup.
    assert!(page.html.contains("&lt;b&gt;build-box"), "{}", page.html);
    assert!(!page.html.contains("<b>build-box"), "{}", page.html);
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device/decision",
        &[
            ("csrf", &csrf),
            ("user_code", str_of(&started, "user_code")),
            ("decision", "deny"),
        ],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Sign-in denied"), "{}", page.html);
    for _ in 0..2 {
        assert_refused(
            &poll(&t, str_of(&started, "device_code")).await,
            "access_denied",
        );
        t.clock.advance(10 * SECOND);
    }
    // Deciding again says it was decided.
    let page = browse(
        &t,
        &browser,
        Method::POST,
        "/device/decision",
        &[
            ("csrf", &csrf),
            ("user_code", str_of(&started, "user_code")),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(page.status, 409);
    assert!(
        page.html.contains("already approved or denied"),
        "{}",
        page.html
    );

    // Signed out, the page asks to sign in and comes back with the code.
    let fresh = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browse(&t, &fresh, Method::GET, "/device?user_code=BCDF-GHJK", &[]).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some("/sign-in?next=%2Fdevice%3Fuser_code%3DBCDF-GHJK")
    );
    t.stop().await;
}

async fn code_flow_through_the_pages(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let (browser, csrf) = browser_signed_in(&t, "ada").await;
    let path = authorize_path(CALLBACK, "xyz", "ada-laptop");

    // The consent page names the program, the device and the account, and
    // lets its form's answer go to the program on this computer.
    let (page, form_csrf, request) = consent(&t, &browser, &path).await;
    assert_eq!(form_csrf, csrf);
    for shown in [
        "postroom CLI",
        "ada-laptop",
        "ada@example.com",
        "127.0.0.1:53123",
    ] {
        assert!(page.html.contains(shown), "{shown}: {}", page.html);
    }
    assert!(
        page.csp
            .contains("form-action 'self' http://127.0.0.1:53123;"),
        "{}",
        page.csp
    );
    // Without the CSRF token nothing is decided.
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[("request", &request), ("decision", "approve")],
    )
    .await;
    assert_eq!((r.status, r.location), (403, None));

    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[
            ("csrf", &csrf),
            ("request", &request),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let location = r.location.unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:53123/callback?code="),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    let code = param(&location, "code").unwrap();

    // A wrong verifier, redirect URI or client: refused, and the code stays
    // good for the program that holds the verifier.
    let wrong_verifier = VERIFIER.replace('d', "e");
    for (redirect_uri, client_id, verifier) in [
        (CALLBACK, "postroom-cli", wrong_verifier.as_str()),
        ("http://127.0.0.1:53124/callback", "postroom-cli", VERIFIER),
        ("http://127.0.0.1:53123/callback/", "postroom-cli", VERIFIER),
        (CALLBACK, "another-app", VERIFIER),
    ] {
        let r = exchange(&t, &code, redirect_uri, client_id, verifier).await;
        assert_refused(&r, "invalid_grant");
    }
    let r = exchange(&t, &code, CALLBACK, "postroom-cli", VERIFIER).await;
    r.assert(200, None);
    assert_eq!(r.body["token_type"], "Bearer");
    let token = str_of(&r.body, "access_token").to_owned();
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    assert_eq!(
        session_devices(&t, &token).await[0].0,
        "postroom CLI on ada-laptop"
    );
    // So does the sessions page.
    let page = browse(&t, &browser, Method::GET, "/settings/sessions", &[]).await;
    assert!(
        page.html.contains("postroom CLI on ada-laptop"),
        "{}",
        page.html
    );

    // The request was decided: deciding it again is refused.
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[("csrf", &csrf), ("request", &request), ("decision", "deny")],
    )
    .await;
    assert_eq!((r.status, r.location), (409, None));

    // Deny: the program is told, with its state; the name it gave shows as text.
    let path = authorize_path("http://[::1]:40000/cb?keep=1", "s2", "<i>box</i>");
    let (page, _, request) = consent(&t, &browser, &path).await;
    assert!(page.html.contains("&lt;i&gt;box"), "{}", page.html);
    assert!(!page.html.contains("<i>box"), "{}", page.html);
    assert!(
        page.csp.contains("form-action 'self' http://*:40000;"),
        "{}",
        page.csp
    );
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[("csrf", &csrf), ("request", &request), ("decision", "deny")],
    )
    .await;
    assert_eq!(r.status, 303);
    let location = r.location.unwrap();
    assert!(
        location.starts_with("http://[::1]:40000/cb?keep=1&error=access_denied"),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("s2"));
    assert_eq!(param(&location, "code"), None);

    // Another account's request is not found for ada.
    t.new_user("bob").await;
    let (bob_browser, _) = browser_signed_in(&t, "bob").await;
    let (_, _, bob_request) =
        consent(&t, &bob_browser, &authorize_path(CALLBACK, "b", "bob-pc")).await;
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[
            ("csrf", &csrf),
            ("request", &bob_request),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!((r.status, r.location), (404, None));
    t.stop().await;
}

async fn a_replayed_or_late_code_gives_nothing(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let (browser, csrf) = browser_signed_in(&t, "ada").await;
    let code = approve_code(&t, &browser, &authorize_path(CALLBACK, "s", "ada-laptop")).await;
    let r = exchange(&t, &code, CALLBACK, "postroom-cli", VERIFIER).await;
    r.assert(200, None);
    let token = str_of(&r.body, "access_token").to_owned();
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);

    // Used again: refused, and the session it gave ends (whoever sent it
    // again may have stolen it). Other sessions stay.
    let r = exchange(&t, &code, CALLBACK, "postroom-cli", VERIFIER).await;
    assert_refused(&r, "invalid_grant");
    t.get("/api/v1/me", Some(&token))
        .await
        .assert(401, Some("unauthenticated"));
    t.get("/api/v1/me", Some(&ada)).await.assert(200, None);
    assert_refused(
        &exchange(&t, &code, CALLBACK, "postroom-cli", VERIFIER).await,
        "invalid_grant",
    );

    // A code is good for 5 minutes after the program asked.
    let path = authorize_path(CALLBACK, "late", "ada-laptop");
    let code = approve_code(&t, &browser, &path).await;
    t.clock.advance(5 * MINUTE);
    assert_refused(
        &exchange(&t, &code, CALLBACK, "postroom-cli", VERIFIER).await,
        "invalid_grant",
    );
    // And a consent page left open that long cannot be approved.
    let (_, _, request) = consent(&t, &browser, &path).await;
    t.clock.advance(5 * MINUTE);
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/oauth/authorize",
        &[
            ("csrf", &csrf),
            ("request", &request),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!((r.status, r.location), (400, None));
    assert!(r.html.contains("expired"), "{}", r.html);
    t.stop().await;
}

async fn redirects_other_than_loopback_are_refused_on_a_page(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    let (browser, _) = browser_signed_in(&t, "ada").await;
    let signed_out = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for redirect_uri in [
        "https://evil.example/callback",
        "http://evil.example:53123/callback",
        "http://127.0.0.1.evil.example/callback",
        "http://127.0.0.1:80@evil.example/callback",
        "https://127.0.0.1:53123/callback",
        "http://127.0.0.1:53123/callback#frag",
        "com.example.app:/callback",
    ] {
        for client in [&browser, &signed_out] {
            let page = browse(
                &t,
                client,
                Method::GET,
                &authorize_path(redirect_uri, "s", "d"),
                &[],
            )
            .await;
            assert_eq!(
                (page.status, page.location.as_deref()),
                (400, None),
                "{redirect_uri}"
            );
            assert!(
                page.html.contains("loopback address"),
                "{redirect_uri}: {}",
                page.html
            );
        }
    }
    // Without a redirect URI or a valid client, nobody is told but the person.
    let without = authorize_path(CALLBACK, "s", "d").replace(
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53123%2Fcallback",
        "",
    );
    let bad_client = authorize_path(CALLBACK, "s", "d")
        .replace("client_id=postroom-cli", "client_id=%3Cscript%3E");
    let twice = format!(
        "{}&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2F",
        authorize_path(CALLBACK, "s", "d")
    );
    for path in [without, bad_client, twice] {
        let page = browse(&t, &browser, Method::GET, &path, &[]).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (400, None),
            "{path}"
        );
    }
    t.stop().await;
}

async fn other_bad_requests_go_back_to_the_program(db: Db) {
    let t = TestApp::spawn(db).await;
    let browser = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let good = authorize_path(CALLBACK, "xyz", "ada-laptop");
    for (path, error) in [
        (
            good.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (good.replace("S256", "plain"), "invalid_request"),
        (
            good.replace(&format!("code_challenge={CHALLENGE}&"), ""),
            "invalid_request",
        ),
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            good.replace("device_name=ada-laptop", "device_name=a%0Ab"),
            "invalid_request",
        ),
        (
            format!("{good}&code_challenge={CHALLENGE}"),
            "invalid_request",
        ),
    ] {
        let page = browse(&t, &browser, Method::GET, &path, &[]).await;
        assert_eq!(page.status, 303, "{path}");
        let location = page.location.unwrap();
        assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
        assert_eq!(param(&location, "error").as_deref(), Some(error), "{path}");
        assert_eq!(param(&location, "state").as_deref(), Some("xyz"), "{path}");
    }
    t.stop().await;
}

async fn signed_out_people_sign_in_first_and_come_back(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    // Onboarding done, so that signing in goes straight back.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    let actor = Actor {
        user_id: str_of(&me.body["user"], "id").to_owned(),
        session_id: None,
        can_write: true,
    };
    postroom_server::domain::profile::complete_onboarding(
        &t.app,
        &actor,
        Some(("Ada", "Learning")),
    )
    .await
    .unwrap();

    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The program may send its redirect URI unencoded; the way back is
    // this site's own encoding of the same request.
    let sent = format!(
        "/oauth/authorize?response_type=code&client_id=postroom-cli&redirect_uri={CALLBACK}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz&device_name=ada-laptop"
    );
    let page = browse(&t, &browser, Method::GET, &sent, &[]).await;
    assert_eq!(page.status, 303);
    let location = page.location.unwrap();
    let back = authorize_path(CALLBACK, "xyz", "ada-laptop");
    assert_eq!(
        location,
        format!(
            "/sign-in?next={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        )
    );
    let sign_in = browse(&t, &browser, Method::GET, &location, &[]).await;
    assert_eq!(sign_in.status, 200);
    let csrf = between(&sign_in.html, r#"name="csrf" value=""#, "\"").to_owned();
    let next = unescape(between(&sign_in.html, r#"name="next" value=""#, "\""));
    assert_eq!(next, back);
    let r = browse(
        &t,
        &browser,
        Method::POST,
        "/sign-in",
        &[
            ("csrf", &csrf),
            ("login", "ada"),
            ("password", PASSWORD),
            ("next", &next),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some(back.as_str()))
    );
    let (page, _, _) = consent(&t, &browser, &back).await;
    assert!(page.html.contains("ada-laptop"), "{}", page.html);
    t.stop().await;
}

async fn revoking_the_session_or_changing_the_password_ends_it(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let token = device_token(&t, &ada, "ada-laptop").await;
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    let r = t.get("/api/v1/me/sessions", Some(&ada)).await;
    let id = r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["device"] == "postroom CLI on ada-laptop")
        .map(|s| str_of(s, "id").to_owned())
        .expect("the program's session is listed");
    t.delete(&format!("/api/v1/me/sessions/{id}"), Some(&ada))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&token))
        .await
        .assert(401, Some("unauthenticated"));

    // Signing out with it ends it too.
    let token = device_token(&t, &ada, "ada-laptop").await;
    t.delete("/api/v1/sessions/current", Some(&token))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&token)).await.assert(401, None);

    // A password change ends the program's session, and what was approved
    // but not yet picked up.
    let token = device_token(&t, &ada, "ada-laptop").await;
    let started = start_device(&t, "other-box").await;
    t.post(
        "/api/v1/device-authorizations/approve",
        Some(&ada),
        json!({ "user_code": str_of(&started, "user_code") }),
    )
    .await
    .assert(200, None);
    t.post(
        "/api/v1/me/password",
        Some(&ada),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    t.get("/api/v1/me", Some(&token)).await.assert(401, None);
    assert_refused(
        &poll(&t, str_of(&started, "device_code")).await,
        "access_denied",
    );
    t.stop().await;
}

async fn token_requests_are_checked(db: Db) {
    let t = TestApp::spawn(db).await;
    let started = start_device(&t, "box").await;
    let device_code = str_of(&started, "device_code");
    let junk = "x".repeat(43);
    let too_long = "x".repeat(65);

    // Not a form.
    let r = t
        .post("/oauth/token", None, json!({ "grant_type": DEVICE_GRANT }))
        .await;
    assert_refused(&r, "invalid_request");
    for (form, error) in [
        (vec![], "invalid_request"),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (
            vec![("grant_type", "client_credentials")],
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", DEVICE_GRANT), ("client_id", "postroom-cli")],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("device_code", device_code),
                ("client_id", "postroom-cli"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", DEVICE_GRANT),
                ("device_code", "nope"),
                ("client_id", "postroom-cli"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", DEVICE_GRANT),
                ("device_code", junk.as_str()),
                ("client_id", "postroom-cli"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", "another-app"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", junk.as_str()),
                ("redirect_uri", CALLBACK),
                ("client_id", "postroom-cli"),
                ("code_verifier", VERIFIER),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", junk.as_str()),
                ("redirect_uri", CALLBACK),
                ("client_id", "postroom-cli"),
            ],
            "invalid_request",
        ),
    ] {
        let r = form_post(&t, "/oauth/token", &form).await;
        assert_refused(&r, error);
        assert!(r.body["error_description"].is_string(), "{}", r.body);
    }
    // None of that touched the real request.
    assert_refused(&poll(&t, device_code).await, "authorization_pending");
    t.request(Method::GET, "/oauth/token", None, None)
        .await
        .assert(405, None);

    // Asking for a device code: a client_id of a sane shape, a device name
    // without control characters.
    for form in [
        vec![("device_name", "box")],
        vec![("client_id", "has space")],
        vec![("client_id", too_long.as_str())],
        vec![("client_id", "postroom-cli"), ("device_name", "two\nlines")],
        vec![("client_id", "postroom-cli"), ("client_id", "postroom-cli")],
    ] {
        assert_refused(
            &form_post(&t, "/oauth/device", &form).await,
            "invalid_request",
        );
    }
    // Any other program may ask, under its own name; a long device name is cut.
    let long = "d".repeat(100);
    let r = form_post(
        &t,
        "/oauth/device",
        &[("client_id", "my-app.v2"), ("device_name", &long)],
    )
    .await;
    r.assert(200, None);
    let ada = t.new_user("ada").await;
    let r = t
        .post(
            "/api/v1/device-authorizations/approve",
            Some(&ada),
            json!({ "user_code": str_of(&r.body, "user_code") }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["client_id"], "my-app.v2");
    assert_eq!(r.body["device_name"], "d".repeat(64));
    t.stop().await;
}
