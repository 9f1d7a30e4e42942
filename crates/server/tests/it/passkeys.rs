//! Passkeys (A10). In Chromium with ChromeDriver's virtual authenticators
//! (WebDriver's WebAuthn extension): adding passkeys in the security
//! settings, signing in with one (the button, and the browser's autofill of
//! the login field), removing one (which then signs in no more), and the
//! explanation a server reached by an IP address gives instead. WebAuthn
//! needs a domain name, so these servers' public URL is
//! `http://localhost:<port>` and the browser opens them there.
//!
//! And, without a browser, the JSON endpoints the pages' script calls: each
//! bad answer, unknown, spent, expired or foreign ceremony gets its status
//! and code; the options ask for what passkeys need; made-up answers (noise,
//! near-valid client data, CBOR-looking attestations) are refused with a
//! code, never a 5xx.

use std::time::{Duration, Instant};

use postroom_server::clock::{MINUTE, SECOND};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::Client;
use serde_json::{json, Value};

use crate::common::browser::*;
use crate::common::{Db, Resp, TestApp, PASSWORD};
use crate::cookie_auth::browser_signed_in;

const LOCALHOST: &str = "http://localhost:0";

// ---------------------------------------------------------------------------
// In the browser.

/// The sign-in page's passkey button.
const PASSKEY_BUTTON: &str = "Sign in with a passkey";

/// Waits until the browser shows a page at `path` (without its query).
async fn expect_path(b: &Browser, path: &str) {
    let started = Instant::now();
    loop {
        let now = b.path().await;
        if now.split('?').next() == Some(path) {
            b.settle().await;
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "expected to arrive at {path}, still on {now}; the page says:\n{}",
            b.text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Adds a passkey from the security settings page the browser shows.
async fn add_passkey(b: &Browser, name: &str) {
    let before = listed(b).await.len();
    b.fill("Name (optional)", name).await;
    b.fill("Your password", PASSWORD).await;
    b.button("", "Add a passkey").await;
    let started = Instant::now();
    while listed(b).await.len() != before + 1 {
        assert!(
            started.elapsed() < PATIENCE,
            "the passkey was not added; the page says:\n{}",
            b.text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.expect_text("Your passkey was added").await;
    b.settle().await;
}

/// The passkeys the security page lists: each one's name and its line of dates.
async fn listed(b: &Browser) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        // Asked again while a page is being replaced.
        match b
            .c
            .execute(
                "return Array.from(document.querySelectorAll('li[data-passkey]')).map(li => [li.querySelector('strong').textContent.trim(), li.querySelector('.muted').textContent.trim()])",
                vec![],
            )
            .await
        {
            Ok(v) => return serde_json::from_value(v).unwrap(),
            Err(e) if started.elapsed() > PATIENCE => panic!("the passkeys listed: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the sign-in page has asked the browser for passkeys for
/// the login field's autofill.
async fn autofill_asked(b: &Browser) {
    let started = Instant::now();
    loop {
        let v = b
            .c
            .execute(
                "const box = document.querySelector('[data-passkey-signin]'); return box ? box.dataset.autofill || '' : ''",
                vec![],
            )
            .await
            .unwrap();
        if v.as_str().is_some_and(|s| !s.is_empty()) {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the page did not ask for the autofill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The credentials of an authenticator, checked to be discoverable ones
/// for this site.
async fn resident_credentials(b: &Browser, authenticator: &str) -> Vec<Value> {
    let creds = b.credentials(authenticator).await;
    for c in &creds {
        assert_eq!(c["isResidentCredential"], true, "{c}");
        assert_eq!(c["rpId"], "localhost", "{c}");
    }
    creds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_are_added_sign_in_and_are_removed() {
    run(
        "passkeys_are_added_sign_in_and_are_removed",
        |c| c.public_url = Some(LOCALHOST.into()),
        |w| async move {
            let b = &w.b;
            assert!(b.base.starts_with("http://localhost:"), "{}", b.base);
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            expect_path(b, "/").await;

            b.goto("/settings/security").await;
            b.expect_text("You have no passkeys yet.").await;

            // The first passkey, on the "laptop". A wrong password adds nothing.
            let laptop = b.add_authenticator().await;
            b.fill("Name (optional)", "Laptop").await;
            b.fill("Your password", "not my password").await;
            b.button("", "Add a passkey").await;
            b.expect_text("The password is not correct.").await;
            assert!(b.credentials(&laptop).await.is_empty());
            add_passkey(b, "Laptop").await;
            let laptop_keys = resident_credentials(b, &laptop).await;
            assert_eq!(laptop_keys.len(), 1);

            // The second, on the "phone", named after the browser.
            b.remove_authenticator(&laptop).await;
            let phone = b.add_authenticator().await;
            add_passkey(b, "").await;
            assert_eq!(resident_credentials(b, &phone).await.len(), 1);
            let list = listed(b).await;
            assert_eq!(list.len(), 2, "{list:?}");
            assert_eq!(list[0].0, "Laptop");
            assert!(list[1].0.starts_with("Chrome on Linux, "), "{list:?}");
            assert!(list[0].1.contains("not used yet"), "{list:?}");
            let phone_name = list[1].0.clone();
            // The owner is told of each passkey added, by mail and in the app.
            let mail =
                w.t.mail_to(
                    "ada@example.com",
                    "A passkey was added to your Postroom account",
                )
                .await;
            assert!(mail.contains("Chrome on Linux"), "{mail}");

            // Renaming one.
            let rename = b
                .one(
                    &format!(
                        "//li[.//strong[normalize-space(.)={}]]//input[@name='name']",
                        xpath_literal(&phone_name)
                    ),
                    "the phone's name field",
                )
                .await;
            rename.clear().await.unwrap();
            rename.send_keys("Phone").await.unwrap();
            b.press_in(
                &format!(
                    "//li[.//strong[normalize-space(.)={}]]",
                    xpath_literal(&phone_name)
                ),
                "Rename",
            )
            .await;
            b.expect_text("The passkey was renamed.").await;
            assert_eq!(listed(b).await[1].0, "Phone");

            // Signing in through the browser's autofill of the login field
            // (conditional mediation): the sign-in page asks for it as it
            // loads, and the virtual authenticator answers such a request by
            // itself with the passkey it holds, as a person picking it would.
            // The phone is empty while signing out, so that the page signing
            // out lands on does not sign in at once; then a sign-in page that
            // names where to go next.
            let phone_keys = resident_credentials(b, &phone).await;
            b.remove_credentials(&phone).await;
            b.sign_out().await;
            b.expect_heading("Sign in to Postroom").await;
            b.add_credential(&phone, &phone_keys[0]).await;
            b.goto("/sign-in?next=%2Fsettings%2Fnotifications").await;
            expect_path(b, "/settings/notifications").await;
            assert_eq!(b.acting_as().await, "ada");
            b.goto("/settings/security").await;
            let list = listed(b).await;
            assert!(list[1].1.contains("last used just now"), "{list:?}");
            assert!(list[0].1.contains("not used yet"), "{list:?}");

            // Signing in with the button. The phone is empty while the page
            // asks for the autofill, so only the button finds the passkey.
            let phone_keys = resident_credentials(b, &phone).await;
            b.remove_credentials(&phone).await;
            b.sign_out().await;
            b.expect_heading("Sign in to Postroom").await;
            let login = b.field("Email or username").await;
            assert_eq!(
                login.attr("autocomplete").await.unwrap().as_deref(),
                Some("username webauthn")
            );
            autofill_asked(b).await;
            b.add_credential(&phone, &phone_keys[0]).await;
            b.button("", PASSKEY_BUTTON).await;
            expect_path(b, "/").await;
            assert_eq!(b.acting_as().await, "ada");
            // As the phone holds it now (its counter moved on).
            let phone_keys = resident_credentials(b, &phone).await;

            // Removing the laptop's passkey: it signs in no more.
            b.goto("/settings/security").await;
            b.press_confirming(
                "//li[.//strong[normalize-space(.)='Laptop']]",
                "Remove",
                "Remove the passkey Laptop? It will no longer sign you in.",
            )
            .await;
            b.expect_text("The passkey was removed").await;
            let list = listed(b).await;
            assert_eq!(list.len(), 1, "{list:?}");
            assert_eq!(list[0].0, "Phone");
            let mail =
                w.t.mail_to(
                    "ada@example.com",
                    "A passkey was removed from your Postroom account",
                )
                .await;
            assert!(mail.contains("Laptop"), "{mail}");
            b.goto("/notifications").await;
            b.expect_text("A passkey was removed: Laptop").await;
            b.expect_text("A passkey was added: Laptop").await;

            // The autofill offers it and the server refuses it; so does the button.
            b.remove_authenticator(&phone).await;
            let laptop = b.add_authenticator().await;
            b.add_credential(&laptop, &laptop_keys[0]).await;
            b.sign_out().await;
            b.expect_text("This passkey is not registered on this server")
                .await;
            b.button("", PASSKEY_BUTTON).await;
            b.expect_text("This passkey is not registered on this server")
                .await;
            assert_eq!(b.path().await, "/sign-in");
            assert!(b
                .c
                .find(fantoccini::Locator::Css("details.menu"))
                .await
                .is_err());

            // A disabled account does not sign in with a passkey either.
            let by = postroom_server::domain::operator::By::CommandLine;
            postroom_server::domain::operator::set_disabled(&w.t.app, &by, "ada", true)
                .await
                .unwrap();
            b.remove_credentials(&laptop).await;
            b.add_credential(&laptop, &phone_keys[0]).await;
            b.button("", PASSKEY_BUTTON).await;
            b.expect_text("This account is disabled by the operator of this server")
                .await;
            assert_eq!(b.path().await, "/sign-in");
            postroom_server::domain::operator::set_disabled(&w.t.app, &by, "ada", false)
                .await
                .unwrap();

            // The security page as it is left, in a second browser (its
            // screenshot is this test's second).
            let other = w.browser().await;
            other.sign_in("ada", PASSWORD, false).await;
            expect_path(&other, "/").await;
            other.goto("/settings/security").await;
            let list = listed(&other).await;
            assert_eq!(list.len(), 1, "{list:?}");
            assert!(list[0].1.contains("last used"), "{list:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reached_by_an_ip_address_explains_why_it_has_no_passkeys() {
    run(
        "a_server_reached_by_an_ip_address_explains_why_it_has_no_passkeys",
        |_| {},
        |w| async move {
            let b = &w.b;
            assert!(b.base.starts_with("http://127.0.0.1:"), "{}", b.base);
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.goto("/settings/security").await;
            b.expect_text("names an IP address, which browsers do not accept for passkeys")
                .await;
            let add =
                b.c.find_all(fantoccini::Locator::XPath(
                    "//button[normalize-space(.)='Add a passkey']",
                ))
                .await
                .unwrap();
            assert!(add.is_empty(), "no passkey can be added");

            b.sign_out().await;
            b.expect_heading("Sign in to Postroom").await;
            let buttons =
                b.c.find_all(fantoccini::Locator::XPath(&format!(
                    "//button[normalize-space(.)='{PASSKEY_BUTTON}']"
                )))
                .await
                .unwrap();
            assert!(buttons.is_empty(), "the sign-in page offers no passkey");
            let login = b.field("Email or username").await;
            assert_eq!(
                login.attr("autocomplete").await.unwrap().as_deref(),
                Some("username")
            );
        },
    )
    .await;
}

// ---------------------------------------------------------------------------
// The JSON endpoints, without a browser.

on_both_databases!(
    sign_in_ceremonies_refuse_bad_answers_and_serve_once,
    registration_needs_the_password_and_the_session_that_began_it,
);

/// A browser that signed in nobody: its cookies, and the CSRF token of the
/// sign-in page.
async fn signed_out_browser(t: &TestApp) -> (Client, String) {
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(t.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page
        .find(r#"<meta name="csrf-token" content=""#)
        .expect("the CSRF token")
        + r#"<meta name="csrf-token" content=""#.len();
    let len = page[start..].find('"').unwrap();
    (browser, page[start..start + len].to_owned())
}

async fn send(t: &TestApp, browser: &Client, csrf: Option<&str>, path: &str, body: Value) -> Resp {
    let mut req = browser.post(t.url(path)).json(&body);
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// A credential of the right shape whose signature proves nothing.
fn forged_assertion() -> Value {
    json!({
        "id": b64(&[7; 16]),
        "rawId": b64(&[7; 16]),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0; 37]),
            "clientDataJSON": b64(br#"{"type":"webauthn.get","challenge":"AAAA","origin":"http://localhost"}"#),
            "signature": b64(&[1; 64]),
            "userHandle": b64(uuid::Uuid::now_v7().as_bytes()),
        },
        "extensions": {},
    })
}

async fn sign_in_ceremonies_refuse_bad_answers_and_serve_once(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.public_url = Some(LOCALHOST.into())).await;
    t.new_user("ada").await;
    let (browser, csrf) = signed_out_browser(&t).await;
    let begin = "/sign-in/passkey/begin";
    let finish = "/sign-in/passkey/finish";

    // Without the page's CSRF token, nothing begins.
    send(&t, &browser, None, begin, json!({}))
        .await
        .assert(403, Some("csrf_failed"));
    send(&t, &browser, Some("nope"), begin, json!({}))
        .await
        .assert(403, Some("csrf_failed"));

    // The options: conditional mediation, user verification, this site,
    // any of its passkeys.
    let r = send(&t, &browser, Some(&csrf), begin, json!({})).await;
    r.assert(200, None);
    let options = &r.body["options"];
    assert_eq!(options["mediation"], "conditional", "{options}");
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(options["publicKey"]["challenge"].as_str().unwrap().len() >= 43);
    let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();

    // Bad answers: not JSON, not a credential, an unknown ceremony.
    let r = TestApp::read(
        browser
            .post(t.url(finish))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert(400, Some("invalid_json"));
    send(
        &t,
        &browser,
        Some(&csrf),
        finish,
        json!({ "ceremony": ceremony }),
    )
    .await
    .assert(422, Some("invalid_body"));
    send(
        &t,
        &browser,
        Some(&csrf),
        finish,
        json!({ "ceremony": ceremony, "credential": { "id": 5 } }),
    )
    .await
    .assert(400, Some("invalid_credential"));
    let long = "x".repeat(43);
    for unknown in ["", "short", long.as_str(), "../../etc"] {
        send(
            &t,
            &browser,
            Some(&csrf),
            finish,
            json!({ "ceremony": unknown, "credential": forged_assertion() }),
        )
        .await
        .assert(400, Some("ceremony_unknown"));
    }

    // A forged answer is refused, and spends the ceremony.
    let answer = json!({ "ceremony": ceremony, "credential": forged_assertion() });
    send(&t, &browser, Some(&csrf), finish, answer.clone())
        .await
        .assert(401, Some("passkey_not_accepted"));
    send(&t, &browser, Some(&csrf), finish, answer)
        .await
        .assert(400, Some("ceremony_unknown"));

    // A ceremony lasts 5 minutes.
    let r = send(&t, &browser, Some(&csrf), begin, json!({})).await;
    let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();
    t.clock.advance(5 * MINUTE + SECOND);
    send(
        &t,
        &browser,
        Some(&csrf),
        finish,
        json!({ "ceremony": ceremony, "credential": forged_assertion() }),
    )
    .await
    .assert(400, Some("ceremony_expired"));

    // A registration's ceremony does not sign in.
    let (ada, ada_csrf) = browser_signed_in(&t, "ada").await;
    let r = send(
        &t,
        &ada,
        Some(&ada_csrf),
        "/settings/security/passkeys/begin",
        json!({ "password": PASSWORD }),
    )
    .await;
    r.assert(200, None);
    let registration = r.body["ceremony"].as_str().unwrap().to_owned();
    send(
        &t,
        &browser,
        Some(&csrf),
        finish,
        json!({ "ceremony": registration, "credential": forged_assertion() }),
    )
    .await
    .assert(400, Some("ceremony_unknown"));

    // Passkeys on a server reached by an IP address: none, said clearly.
    let ip = TestApp::spawn(db).await;
    let (browser, csrf) = signed_out_browser(&ip).await;
    let r = send(&ip, &browser, Some(&csrf), begin, json!({})).await;
    r.assert(409, Some("passkeys_unavailable"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("IP address"));
}

async fn registration_needs_the_password_and_the_session_that_began_it(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.public_url = Some(LOCALHOST.into())).await;
    t.new_user("ada").await;
    t.new_user("bob").await;
    let begin = "/settings/security/passkeys/begin";
    let finish = "/settings/security/passkeys/finish";

    // Signed out: nothing to add a passkey to.
    let (nobody, csrf) = signed_out_browser(&t).await;
    send(
        &t,
        &nobody,
        Some(&csrf),
        begin,
        json!({ "password": PASSWORD }),
    )
    .await
    .assert(401, Some("unauthenticated"));

    let (ada, csrf) = browser_signed_in(&t, "ada").await;
    send(&t, &ada, None, begin, json!({ "password": PASSWORD }))
        .await
        .assert(403, Some("csrf_failed"));
    send(&t, &ada, Some(&csrf), begin, json!({ "password": "wrong" }))
        .await
        .assert(422, Some("wrong_password"));
    let r = send(
        &t,
        &ada,
        Some(&csrf),
        begin,
        json!({ "password": PASSWORD }),
    )
    .await;
    r.assert(200, None);
    let options = &r.body["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost", "{options}");
    assert_eq!(options["user"]["name"], "ada");
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{selection}");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();

    // Another account, or another session of the same account, cannot end it.
    let (bob, bob_csrf) = browser_signed_in(&t, "bob").await;
    let r = send(
        &t,
        &bob,
        Some(&bob_csrf),
        begin,
        json!({ "password": PASSWORD }),
    )
    .await;
    let bobs = r.body["ceremony"].as_str().unwrap().to_owned();
    let credential = json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
    });
    send(
        &t,
        &bob,
        Some(&bob_csrf),
        finish,
        json!({ "ceremony": ceremony, "credential": credential }),
    )
    .await
    .assert(400, Some("ceremony_unknown"));
    // Tried by another, it is spent for its own session too.
    send(
        &t,
        &ada,
        Some(&csrf),
        finish,
        json!({ "ceremony": ceremony, "credential": credential }),
    )
    .await
    .assert(400, Some("ceremony_unknown"));
    let (ada_elsewhere, elsewhere_csrf) = browser_signed_in(&t, "ada").await;
    let r = send(
        &t,
        &ada,
        Some(&csrf),
        begin,
        json!({ "password": PASSWORD }),
    )
    .await;
    let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();
    send(
        &t,
        &ada_elsewhere,
        Some(&elsewhere_csrf),
        finish,
        json!({ "ceremony": ceremony, "credential": credential }),
    )
    .await
    .assert(400, Some("ceremony_unknown"));

    // Garbage in the answer is the answer's fault, and a forged
    // attestation is refused with its reason; the ceremony is spent.
    send(
        &t,
        &bob,
        Some(&bob_csrf),
        finish,
        json!({ "ceremony": bobs, "credential": [1, 2, 3] }),
    )
    .await
    .assert(400, Some("invalid_credential"));
    send(
        &t,
        &bob,
        Some(&bob_csrf),
        finish,
        json!({ "ceremony": bobs, "credential": credential }),
    )
    .await
    .assert(400, Some("passkey_refused"));
    send(
        &t,
        &bob,
        Some(&bob_csrf),
        finish,
        json!({ "ceremony": bobs, "credential": credential }),
    )
    .await
    .assert(400, Some("ceremony_unknown"));

    // A bad name is refused before anything else.
    send(
        &t,
        &bob,
        Some(&bob_csrf),
        finish,
        json!({ "ceremony": bobs, "name": "x".repeat(65), "credential": credential }),
    )
    .await
    .assert(422, Some("validation_failed"));

    // Nobody has a passkey: the count the other ways to sign in rely on.
    let mut c = t.app.store.conn().await.unwrap();
    let ada_id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'ada'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(
        postroom_server::domain::passkeys::count(&mut c, &ada_id)
            .await
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------
// Made-up answers.

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes from noise to a near-valid `clientDataJSON` for `challenge`.
fn client_data(
    kind: &'static str,
    challenge: String,
    origin: String,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120),
        (any::<bool>(), ".{0,20}").prop_map(move |(right, noise)| {
            let challenge = if right { challenge.clone() } else { noise };
            serde_json::to_vec(&json!({ "type": kind, "challenge": challenge, "origin": origin }))
                .unwrap()
        }),
    ]
}

/// A credential's binary fields: noise, or a CBOR map's first bytes
/// followed by noise (where a decoder has the most to get wrong).
fn binary() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|mut v| {
            v.splice(
                0..0,
                [0xa3, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e'],
            );
            v
        }),
    ]
}

/// Neither a made-up registration nor a made-up sign-in answer gets
/// anything but a 4xx JSON error with a code (no 5xx, no panic), and none
/// adds a passkey or signs anyone in.
#[test]
fn made_up_answers_are_refused_with_a_code() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestApp::spawn_with(Db::Sqlite, |c| {
        c.public_url = Some(LOCALHOST.into());
        // Many attempts from one address and account.
        c.rate_limits = false;
    }));
    rt.block_on(t.new_user("ada"));
    let (ada, csrf) = rt.block_on(browser_signed_in(&t, "ada"));
    let origin = t.app.settings.public_url.origin().ascii_serialization();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let refused = |what: &str, r: &Resp| {
        if r.status.is_client_error() && r.body["error"]["code"].is_string() {
            Ok(())
        } else {
            Err(TestCaseError::fail(format!(
                "{what}: {} {}",
                r.status, r.body
            )))
        }
    };

    // Registrations: each case with a ceremony of its own.
    let result = runner.run(
        &(
            binary(),
            client_data("webauthn.create", String::new(), origin.clone()),
            prop::collection::vec(any::<u8>(), 0..40),
            any::<bool>(),
        ),
        |(attestation, client, id, challenge)| {
            let r = rt.block_on(send(
                &t,
                &ada,
                Some(&csrf),
                "/settings/security/passkeys/begin",
                json!({ "password": PASSWORD }),
            ));
            let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();
            let mut client = client;
            if challenge {
                // The real challenge, so that decoding gets to the attestation.
                let real = r.body["options"]["publicKey"]["challenge"].as_str().unwrap();
                client = serde_json::to_vec(&json!({ "type": "webauthn.create", "challenge": real, "origin": origin }))
                    .unwrap();
            }
            let credential = json!({
                "id": b64(&id),
                "rawId": b64(&id),
                "type": "public-key",
                "response": { "attestationObject": b64(&attestation), "clientDataJSON": b64(&client) },
            });
            let r = rt.block_on(send(
                &t,
                &ada,
                Some(&csrf),
                "/settings/security/passkeys/finish",
                json!({ "ceremony": ceremony, "credential": credential }),
            ));
            refused("a made-up registration", &r)
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }

    // Sign-ins, naming ada's account or another.
    let handle = rt.block_on(async {
        let r = send(
            &t,
            &ada,
            Some(&csrf),
            "/settings/security/passkeys/begin",
            json!({ "password": PASSWORD }),
        )
        .await;
        r.body["options"]["publicKey"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let (nobody, nobody_csrf) = rt.block_on(signed_out_browser(&t));
    let result = runner.run(
        &(
            binary(),
            client_data("webauthn.get", String::new(), origin.clone()),
            binary(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..40),
        ),
        |(authenticator_data, client, signature, ours, id)| {
            let r = rt.block_on(send(
                &t,
                &nobody,
                Some(&nobody_csrf),
                "/sign-in/passkey/begin",
                json!({}),
            ));
            let ceremony = r.body["ceremony"].as_str().unwrap().to_owned();
            let user_handle = if ours { handle.clone() } else { b64(&id) };
            let credential = json!({
                "id": b64(&id),
                "rawId": b64(&id),
                "type": "public-key",
                "response": {
                    "authenticatorData": b64(&authenticator_data),
                    "clientDataJSON": b64(&client),
                    "signature": b64(&signature),
                    "userHandle": user_handle,
                },
            });
            let r = rt.block_on(send(
                &t,
                &nobody,
                Some(&nobody_csrf),
                "/sign-in/passkey/finish",
                json!({ "ceremony": ceremony, "credential": credential }),
            ));
            refused("a made-up sign-in", &r)
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(async {
        let mut c = t.app.store.conn().await.unwrap();
        let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(passkeys, 0);
    });
    rt.block_on(t.stop());
}
