//! Signing in through OpenID providers (A2) and teams' single sign-on (A7),
//! against a real provider (`oidc-provider-mock`, see `common::oidc_mock`)
//! with a cookie client for the browser: sign-up through the provider and
//! signing in again, an existing address never linked without proof and
//! linked after it, an address the provider does not vouch for confirmed
//! by mail, cancelled consent and a state from elsewhere, the last sign-in
//! method kept, and a team's provider set up, tested and enforced.

use postroom_server::config::OidcProviderConfig;
use postroom_server::Config;
use reqwest::Client;
use serde_json::json;

use crate::common::oidc_mock::Mock;
use crate::common::{Db, TestApp, PASSWORD};

on_both_databases!(
    sign_up_then_sign_in_again,
    an_existing_address_is_linked_only_after_proof,
    unconfirmed_addresses_cancelled_consent_and_foreign_states,
    the_last_sign_in_method_stays,
    team_sso_is_set_up_tested_and_enforced,
    a_provider_sign_in_asks_for_the_second_step,
);

fn providers(config: &mut Config, mock: &Mock) {
    let provider = |id: &str, name: &str, trusted: bool| OidcProviderConfig {
        id: id.into(),
        name: Some(name.into()),
        issuer: Some(mock.issuer.clone()),
        client_id: format!("postroom-{id}"),
        client_secret: "mock-secret".to_owned().into(),
        trusted_email: Some(trusted),
    };
    // Nothing listens on the discard port: a provider that cannot be reached.
    let gone = OidcProviderConfig {
        issuer: Some("http://127.0.0.1:9".into()),
        ..provider("gone", "Gone ID", true)
    };
    config.oidc = vec![
        provider("mock", "Mock ID", true),
        provider("other", "Other ID", false),
        gone,
    ];
}

async fn start(db: Db, test: &str) -> Option<(TestApp, Mock)> {
    let mock = Mock::start(test).await?;
    let t = TestApp::spawn_with(db, |c| providers(c, &mock)).await;
    Some((t, mock))
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    location: String,
    html: String,
}

async fn get(t: &TestApp, b: &Client, path_or_url: &str) -> Answer {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_owned()
    } else {
        t.url(path_or_url)
    };
    answer(b.get(url).send().await.unwrap()).await
}

async fn post(t: &TestApp, b: &Client, path: &str, form: &[(&str, &str)]) -> Answer {
    answer(b.post(t.url(path)).form(form).send().await.unwrap()).await
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Answer {
        status,
        location,
        html: r.text().await.unwrap(),
    }
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in the page:\n{page}"))
        + start.len();
    let len = page[from..].find(end).expect("the value ends");
    &page[from..from + len]
}

fn csrf(page: &str) -> String {
    between(page, r#"<meta name="csrf-token" content=""#, "\"").to_owned()
}

/// Goes from `start` (a path of ours that sends the browser to the
/// provider) through the provider as `sub`, and back: our answer to the
/// callback.
async fn through(t: &TestApp, b: &Client, mock: &Mock, start: &str, sub: &str) -> Answer {
    let to_provider = get(t, b, start).await;
    assert_eq!(to_provider.status, 303, "{start}: {}", to_provider.html);
    let back = mock.authorize(&to_provider.location, sub).await;
    assert!(back.starts_with(&t.base), "back to us: {back}");
    get(t, b, &back).await
}

async fn user_id(t: &TestApp, login: &str) -> Option<postroom_server::store::users::UserRow> {
    let mut c = t.app.store.conn().await.unwrap();
    postroom_server::store::users::by_username_key(&mut c, login)
        .await
        .unwrap()
}

async fn identities(t: &TestApp, user_id: &str) -> Vec<String> {
    let mut c = t.app.store.conn().await.unwrap();
    postroom_server::store::oidc::identities(&mut c, user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| format!("{}:{}", i.provider, i.subject))
        .collect()
}

async fn sign_up_then_sign_in_again(db: Db) {
    let Some((t, mock)) = start(db, "oidc::sign_up_then_sign_in_again").await else {
        return;
    };
    mock.set_user(
        "sub-ada",
        json!({ "email": "ada@example.org", "email_verified": true, "name": "Ada" }),
    )
    .await;
    // The sign-in page offers the providers.
    let b = browser();
    let page = get(&t, &b, "/sign-in").await;
    assert!(page.html.contains("Continue with Mock ID"), "{}", page.html);
    assert!(page.html.contains("/auth/oidc/mock"));

    let back = through(&t, &b, &mock, "/auth/oidc/mock", "sub-ada").await;
    assert_eq!(
        (back.status, back.location.as_str()),
        (303, "/auth/oidc/continue")
    );
    let page = get(&t, &b, "/auth/oidc/continue").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Choose your username"), "{}", page.html);
    assert!(page.html.contains("ada@example.org"));
    let token = csrf(&page.html);
    // A username taken keeps the page; a free one creates the account.
    t.new_user("taken").await;
    let again = post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &token), ("username", "taken")],
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.html);
    let done = post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &token), ("username", "ada")],
    )
    .await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/welcome"),
        "{}",
        done.html
    );
    // Signed in, on a confirmed address (the provider is trusted for it).
    let me = get(&t, &b, "/settings/security").await;
    assert_eq!(me.status, 200);
    assert!(
        me.html.contains("Mock ID") && me.html.contains("Not set"),
        "{}",
        me.html
    );
    let ada = user_id(&t, "ada").await.unwrap();
    assert!(ada.email_verified_at.is_some());
    assert_eq!(identities(&t, &ada.id).await, ["mock:sub-ada"]);
    // No password signs in to an account without one.
    for password in ["", "anything at all"] {
        t.post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": password, "keep_signed_in": false }),
        )
        .await
        .assert(401, Some("invalid_credentials"));
    }

    // Signing in again: straight in, in another browser.
    let b2 = browser();
    let back = through(
        &t,
        &b2,
        &mock,
        "/auth/oidc/mock?next=/settings/sessions",
        "sub-ada",
    )
    .await;
    assert_eq!(back.status, 303, "{}", back.html);
    assert!(
        back.location == "/settings/sessions" || back.location.starts_with("/welcome"),
        "{}",
        back.location
    );
    let sessions = get(&t, &b2, "/settings/sessions").await;
    assert_eq!(sessions.status, 200);
}

async fn an_existing_address_is_linked_only_after_proof(db: Db) {
    let Some((t, mock)) = start(db, "oidc::an_existing_address_is_linked_only_after_proof").await
    else {
        return;
    };
    t.new_user("bob").await;
    let bob = user_id(&t, "bob").await.unwrap();
    mock.set_user(
        "sub-bob",
        json!({ "email": "BOB@example.com", "email_verified": true }),
    )
    .await;
    let b = browser();
    let back = through(&t, &b, &mock, "/auth/oidc/mock", "sub-bob").await;
    assert_eq!(
        (back.status, back.location.as_str()),
        (303, "/auth/oidc/continue")
    );
    // Nothing was linked, nor signed in.
    assert!(identities(&t, &bob.id).await.is_empty());
    let page = get(&t, &b, "/auth/oidc/continue").await;
    assert!(page.html.contains("already exists"), "{}", page.html);
    assert!(!page.html.contains("Choose a username"));
    let token = csrf(&page.html);
    let account = post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &token), ("username", "bob2")],
    )
    .await;
    assert_eq!(
        account.status, 400,
        "no second account for the address: {}",
        account.html
    );
    // That spent the request: start again, and prove it.
    let back = through(&t, &b, &mock, "/auth/oidc/mock", "sub-bob").await;
    assert_eq!(back.location, "/auth/oidc/continue");
    let wrong = post(
        &t,
        &b,
        "/auth/oidc/continue/password",
        &[("csrf", &token), ("password", "not it")],
    )
    .await;
    assert_eq!(wrong.status, 422, "{}", wrong.html);
    assert!(identities(&t, &bob.id).await.is_empty());
    let proven = post(
        &t,
        &b,
        "/auth/oidc/continue/password",
        &[("csrf", &token), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(proven.status, 303, "{}", proven.html);
    assert_eq!(identities(&t, &bob.id).await, ["mock:sub-bob"]);
    // From now on the provider alone signs bob in.
    let b2 = browser();
    let back = through(&t, &b2, &mock, "/auth/oidc/mock", "sub-bob").await;
    assert_eq!(back.status, 303);
    assert_ne!(back.location, "/auth/oidc/continue");

    // Proof through a provider already linked: bob's other identity.
    mock.set_user(
        "sub-bob-other",
        json!({ "email": "bob@example.com", "email_verified": false }),
    )
    .await;
    let b3 = browser();
    let back = through(&t, &b3, &mock, "/auth/oidc/other", "sub-bob-other").await;
    assert_eq!(back.location, "/auth/oidc/continue");
    let page = get(&t, &b3, "/auth/oidc/continue").await;
    assert!(page.html.contains("Prove it with Mock ID"), "{}", page.html);
    let token = csrf(&page.html);
    let back = through(
        &t,
        &b3,
        &mock,
        &format!("/auth/oidc/continue/provider/mock?csrf={token}"),
        "sub-bob",
    )
    .await;
    assert_eq!(back.status, 303, "{}", back.html);
    let mut linked = identities(&t, &bob.id).await;
    linked.sort();
    assert_eq!(linked, ["mock:sub-bob", "other:sub-bob-other"]);
}

async fn unconfirmed_addresses_cancelled_consent_and_foreign_states(db: Db) {
    let Some((t, mock)) = start(
        db,
        "oidc::unconfirmed_addresses_cancelled_consent_and_foreign_states",
    )
    .await
    else {
        return;
    };
    // "other" is not trusted for addresses: a new account confirms by mail.
    mock.set_user(
        "sub-cy",
        json!({ "email": "cy@example.net", "email_verified": true }),
    )
    .await;
    let b = browser();
    let back = through(&t, &b, &mock, "/auth/oidc/other", "sub-cy").await;
    assert_eq!(back.location, "/auth/oidc/continue");
    let page = get(&t, &b, "/auth/oidc/continue").await;
    assert!(page.html.contains("to confirm it"), "{}", page.html);
    let done = post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &csrf(&page.html)), ("username", "cyril")],
    )
    .await;
    assert_eq!(done.status, 303);
    assert!(
        done.location
            .starts_with("/check-email?email=cy%40example.net"),
        "{}",
        done.location
    );
    let cy = user_id(&t, "cyril").await.unwrap();
    assert!(cy.email_verified_at.is_none());
    t.link_token("cy@example.net", "/verify-email").await;

    // Consent refused at the provider.
    let to_provider = get(&t, &b, "/auth/oidc/mock").await;
    let back = mock.deny(&to_provider.location).await;
    assert!(back.contains("error=access_denied"), "{back}");
    let page = get(&t, &b, &back).await;
    assert_eq!(page.status, 400);
    assert!(page.html.contains("Sign-in cancelled"), "{}", page.html);

    // A state this browser did not start, and a callback used twice.
    mock.set_user(
        "sub-dee",
        json!({ "email": "dee@example.org", "email_verified": true }),
    )
    .await;
    let to_provider = get(&t, &b, "/auth/oidc/mock").await;
    let back = mock.authorize(&to_provider.location, "sub-dee").await;
    let stranger = browser();
    let page = get(&t, &stranger, &back).await;
    assert_eq!(page.status, 400);
    assert!(
        page.html.contains("This sign-in cannot go on"),
        "{}",
        page.html
    );
    let first = get(&t, &b, &back).await;
    assert_eq!(first.status, 303);
    let replay = get(&t, &b, &back).await;
    assert_eq!(replay.status, 400, "{}", replay.html);

    // An expired request.
    let to_provider = get(&t, &b, "/auth/oidc/mock").await;
    let back = mock.authorize(&to_provider.location, "sub-dee").await;
    t.clock.advance(11 * 60 * 1000);
    let page = get(&t, &b, &back).await;
    assert_eq!(page.status, 400);
    assert!(page.html.contains("10 minutes"), "{}", page.html);

    // An unknown provider, and one that cannot be reached.
    assert_eq!(get(&t, &b, "/auth/oidc/nobody").await.status, 404);
    let page = get(&t, &browser(), "/auth/oidc/gone").await;
    assert_eq!(page.status, 502, "{}", page.html);
    assert!(page.html.contains("did not answer"), "{}", page.html);
}

async fn the_last_sign_in_method_stays(db: Db) {
    let Some((t, mock)) = start(db, "oidc::the_last_sign_in_method_stays").await else {
        return;
    };
    mock.set_user(
        "sub-eve",
        json!({ "email": "eve@example.org", "email_verified": true }),
    )
    .await;
    let b = browser();
    through(&t, &b, &mock, "/auth/oidc/mock", "sub-eve").await;
    let page = get(&t, &b, "/auth/oidc/continue").await;
    post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &csrf(&page.html)), ("username", "eve")],
    )
    .await;
    let eve = user_id(&t, "eve").await.unwrap();
    let page = get(&t, &b, "/settings/security").await;
    let token = csrf(&page.html);
    let mock_id = {
        let mut c = t.app.store.conn().await.unwrap();
        postroom_server::store::oidc::identities(&mut c, &eve.id)
            .await
            .unwrap()[0]
            .id
            .clone()
    };
    let refused = post(
        &t,
        &b,
        &format!("/settings/security/{mock_id}/unlink"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused.html.contains("only way to sign in"),
        "{}",
        refused.html
    );
    assert_eq!(identities(&t, &eve.id).await.len(), 1);
    // Link another provider, then the first may go.
    mock.set_user("sub-eve-2", json!({ "email": "eve@example.org" }))
        .await;
    let back = through(
        &t,
        &b,
        &mock,
        &format!("/auth/oidc/other/link?csrf={token}"),
        "sub-eve-2",
    )
    .await;
    assert_eq!(
        (back.status, back.location.as_str()),
        (303, "/settings/security?flash=provider_linked")
    );
    // The same identity cannot be linked to a second account.
    let ok = post(
        &t,
        &b,
        &format!("/settings/security/{mock_id}/unlink"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.html);
    assert_eq!(identities(&t, &eve.id).await, ["other:sub-eve-2"]);
}

async fn team_sso_is_set_up_tested_and_enforced(db: Db) {
    let Some((t, mock)) = start(db, "oidc::team_sso_is_set_up_tested_and_enforced").await else {
        return;
    };
    let ada = t.new_user("ada").await;
    let (browser_ada, token) = crate::cookie_auth::browser_signed_in(&t, "ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;
    let setup = json!({
        "issuer": mock.issuer,
        "client_id": "acme-postroom",
        "client_secret": "s3cret-of-acme",
    });
    // Free plan: no single sign-on; members are not admins.
    t.put("/api/v1/teams/acme/sso", Some(&ada), setup.clone())
        .await
        .assert(403, Some("plan_required"));
    t.put("/api/v1/teams/acme/sso", Some(&bob), setup.clone())
        .await
        .assert(403, Some("admin_required"));
    {
        let mut tx = t.app.store.begin().await.unwrap();
        sqlx::query("UPDATE teams SET plan = 'business' WHERE slug = 'acme'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    t.put("/api/v1/teams/acme/sso", Some(&ada), setup.clone())
        .await
        .assert(409, Some("domain_not_verified"));
    postroom_server::domain::teams::operator_verify_domain(&t.app, "acme", "example.com")
        .await
        .unwrap();
    t.put(
        "/api/v1/teams/acme/sso",
        Some(&ada),
        json!({ "issuer": "http://id.example.com", "client_id": "x", "client_secret": "y" }),
    )
    .await
    .assert(422, None);
    let r = t
        .put("/api/v1/teams/acme/sso", Some(&ada), setup.clone())
        .await;
    r.assert(200, None);
    assert_eq!(r.body["sso"]["configured"], true);
    assert!(!r.body.to_string().contains("s3cret"));
    {
        let mut c = t.app.store.conn().await.unwrap();
        let team = postroom_server::store::teams::by_slug(&mut c, "acme")
            .await
            .unwrap()
            .unwrap();
        let row = postroom_server::store::oidc::team_sso(&mut c, &team.id)
            .await
            .unwrap()
            .unwrap();
        assert!(!row.client_secret_sealed.contains("s3cret"));
    }
    t.put(
        "/api/v1/teams/acme/sso/enforced",
        Some(&ada),
        json!({ "enforced": true }),
    )
    .await
    .assert(409, Some("sso_not_tested"));

    // The admin tests it by signing in through it.
    mock.set_user(
        "corp-ada",
        json!({ "email": "ada@example.com", "email_verified": true }),
    )
    .await;
    let page = get(&t, &browser_ada, "/teams/acme/sso").await;
    assert!(page.html.contains("Test single sign-on"), "{}", page.html);
    let back = through(
        &t,
        &browser_ada,
        &mock,
        &format!("/teams/acme/sso/test?csrf={token}"),
        "corp-ada",
    )
    .await;
    assert_eq!(
        (back.status, back.location.as_str()),
        (303, "/teams/acme/sso?flash=sso_tested"),
        "{}",
        back.html
    );
    let r = t.get("/api/v1/teams/acme/sso", Some(&ada)).await;
    assert!(r.body["sso"]["tested_at"].is_string(), "{}", r.body);
    let r = t
        .put(
            "/api/v1/teams/acme/sso/enforced",
            Some(&ada),
            json!({ "enforced": true }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["sso"]["enforced"], true);

    // Password sign-in is refused for the domain, naming where to go.
    let r = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "bob", "password": PASSWORD, "keep_signed_in": false }),
        )
        .await;
    r.assert(403, Some("sso_required"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/auth/sso/acme"));
    // A wrong password still says only that.
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "bob", "password": "wrong", "keep_signed_in": false }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    // The web sign-in sends the address on to the team's provider.
    let b = browser();
    let page = get(&t, &b, "/sign-in").await;
    let sent = post(
        &t,
        &b,
        "/sign-in",
        &[
            ("csrf", &csrf(&page.html)),
            ("login", "bob@example.com"),
            ("password", ""),
        ],
    )
    .await;
    // A page with a link on: a form's redirect to another site would be
    // held by the page's `form-action`.
    assert_eq!(sent.status, 200, "{}", sent.html);
    let link = between(&sent.html, r#"<a class="btn" href=""#, "\"")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert!(
        link.starts_with("/auth/sso/acme?login_hint=bob%40example.com"),
        "{link}"
    );
    let to_provider = get(&t, &b, &link).await;
    assert_eq!(to_provider.status, 303);
    assert!(
        to_provider.location.starts_with(&mock.issuer),
        "{}",
        to_provider.location
    );
    assert!(to_provider.location.contains("client_id=acme-postroom"));
    assert!(to_provider.location.contains("code_challenge_method=S256"));
    // Bob's existing account is proven once, then the team's provider signs him in.
    mock.set_user(
        "corp-bob",
        json!({ "email": "bob@example.com", "email_verified": true }),
    )
    .await;
    let back = get(
        &t,
        &b,
        &mock.authorize(&to_provider.location, "corp-bob").await,
    )
    .await;
    assert_eq!(back.location, "/auth/oidc/continue");
    let page = get(&t, &b, "/auth/oidc/continue").await;
    let proven = post(
        &t,
        &b,
        "/auth/oidc/continue/password",
        &[("csrf", &csrf(&page.html)), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(proven.status, 303, "{}", proven.html);
    let again = through(&t, &browser(), &mock, "/auth/sso/acme", "corp-bob").await;
    assert_eq!(again.status, 303);
    assert_ne!(again.location, "/auth/oidc/continue");

    // Every change is in the audit log.
    let log = t.get("/api/v1/teams/acme/audit-log", Some(&ada)).await;
    let text = log.body.to_string();
    for kind in ["sso_configured", "sso_tested", "sso_enforced"] {
        assert!(text.contains(kind), "{kind} in {text}");
    }
    t.put(
        "/api/v1/teams/acme/sso/enforced",
        Some(&ada),
        json!({ "enforced": false }),
    )
    .await
    .assert(200, None);
    t.sign_in("bob", PASSWORD, false).await;
    t.delete("/api/v1/teams/acme/sso", Some(&ada))
        .await
        .assert(204, None);
    t.get("/api/v1/teams/acme/sso", Some(&bob))
        .await
        .assert(403, Some("admin_required"));
}

/// An account with two-step verification is asked for its code after the
/// provider too: the provider is its first factor only.
async fn a_provider_sign_in_asks_for_the_second_step(db: Db) {
    let Some((t, mock)) = start(db, "oidc::a_provider_sign_in_asks_for_the_second_step").await
    else {
        return;
    };
    mock.set_user(
        "sub-ada",
        json!({ "email": "ada@example.org", "email_verified": true, "name": "Ada" }),
    )
    .await;
    let b = browser();
    let back = through(&t, &b, &mock, "/auth/oidc/mock", "sub-ada").await;
    assert_eq!(back.location, "/auth/oidc/continue");
    let page = get(&t, &b, "/auth/oidc/continue").await;
    let token = csrf(&page.html);
    let done = post(
        &t,
        &b,
        "/auth/oidc/continue/account",
        &[("csrf", &token), ("username", "ada")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.html);

    // Two-step verification on, from the settings page.
    let setup = post(&t, &b, "/settings/two-step/begin", &[("csrf", &token)]).await;
    assert_eq!(setup.status, 200, "{}", setup.html);
    let secret = between(&setup.html, r#"<code class="secret-key">"#, "<").to_owned();
    let code = |at: i64| {
        let bytes = totp_rs::Secret::try_from_base32(&secret)
            .unwrap()
            .as_bytes()
            .to_vec();
        totp_rs::Builder::new()
            .with_secret(bytes)
            .build()
            .unwrap()
            .generate((at / 1000) as u64)
            .to_string()
    };
    let on = post(
        &t,
        &b,
        "/settings/two-step/confirm",
        &[("csrf", &token), ("code", &code(t.app.clock.now()))],
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.html);
    assert!(on.html.contains("Your recovery codes"));
    t.clock.advance(30_000);

    // Through the provider again, in another browser: a page asks for the code.
    let b2 = browser();
    let back = through(
        &t,
        &b2,
        &mock,
        "/auth/oidc/mock?next=/settings/sessions",
        "sub-ada",
    )
    .await;
    assert_eq!(back.status, 200, "{}", back.location);
    assert!(back.html.contains("Two-step verification"), "{}", back.html);
    assert_eq!(get(&t, &b2, "/settings/sessions").await.status, 303);
    let challenge = between(&back.html, r#"name="challenge" value=""#, "\"").to_owned();
    let done = post(
        &t,
        &b2,
        "/sign-in/two-step",
        &[
            ("csrf", &csrf(&back.html)),
            ("challenge", &challenge),
            ("code", &code(t.app.clock.now())),
            ("next", "/settings/sessions"),
        ],
    )
    .await;
    // (By way of onboarding, which this new account has not done yet.)
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/welcome?next=%2Fsettings%2Fsessions"),
        "{}",
        done.html
    );
    assert_eq!(get(&t, &b2, "/settings/sessions").await.status, 200);
}

/// As a new user tries it, in Chromium: "Continue with <provider>" on the
/// sign-in page, the provider's page, a username, and the settings that
/// list the identity; with screenshots. The page's policy must let every
/// step through (a blocked redirect shows in the console).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_with_a_provider_in_the_browser() {
    use crate::common::browser::{browsers_installed, run};
    use fantoccini::Locator;
    const NAME: &str = "continue_with_a_provider_in_the_browser";
    if !browsers_installed() {
        crate::common::skip(NAME, "chromium and chromedriver are not installed");
        return;
    }
    let Some(mock) = Mock::start(NAME).await else {
        return;
    };
    mock.set_user(
        "sub-ada",
        json!({ "email": "ada@example.org", "email_verified": true, "name": "Ada" }),
    )
    .await;
    let mock = std::sync::Arc::new(mock);
    let config_mock = mock.clone();
    run(
        NAME,
        move |c| providers(c, &config_mock),
        |w| async move {
            let b = &w.b;
            b.goto("/sign-in").await;
            b.follow("Continue with Mock ID").await;
            // The provider's own page.
            let sub =
                b.c.wait()
                    .for_element(Locator::Css("input[name=sub]"))
                    .await
                    .expect("the provider's page");
            sub.send_keys("sub-ada").await.unwrap();
            b.c.find(Locator::XPath("//button[normalize-space()='Authorize']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            b.expect_heading("Choose your username").await;
            b.expect_text("ada@example.org").await;
            b.fill("Username", "ada").await;
            b.press("Create my account").await;
            b.expect_heading("Welcome to Postroom, ada").await;
            b.goto("/settings/security").await;
            b.expect_heading("Settings").await;
            b.expect_text("Mock ID").await;
            // Linking another provider goes there and back too.
            b.follow("Link Other ID").await;
            let sub =
                b.c.wait()
                    .for_element(Locator::Css("input[name=sub]"))
                    .await
                    .expect("the provider's page");
            sub.send_keys("other-ada").await.unwrap();
            b.c.find(Locator::XPath("//button[normalize-space()='Authorize']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            b.expect_heading("Settings").await;
            b.expect_text("Other ID").await;
            assert!(b.path().await.starts_with("/settings/security"));
            drop(mock);
        },
    )
    .await;
}
