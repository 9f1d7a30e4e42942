//! Authorization: every `/api/v1/me` endpoint needs credentials, and one
//! person can never see or change another's sessions, API keys, profile,
//! avatar or notifications. On SQLite and PostgreSQL.

use crate::common::{Db, Resp, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

on_both_databases!(
    every_authenticated_endpoint_needs_credentials,
    sessions_of_others_cannot_be_seen_or_ended,
    revoking_other_sessions_leaves_other_people_alone,
    api_keys_of_others_cannot_be_seen_or_revoked,
    private_profiles_and_avatars_of_others_are_not_found,
    notifications_of_others_cannot_be_seen_or_marked_read,
    changing_my_account_never_touches_another,
    signing_out_with_an_api_key_is_refused,
    every_route_of_the_openapi_document_is_guarded,
);

/// The routes anyone may call, each with the reason. Every other route of
/// the OpenAPI document must declare a security scheme, and is checked below
/// without credentials, with made-up ones, with a read-only key and (under
/// `/api/v1/teams/{team}`) as an outsider: a new route is covered the day it
/// is added, or this list must say why it is open.
const PUBLIC_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/accounts", "signing up"),
    (
        "POST",
        "/api/v1/accounts/verify-email",
        "the mailed token is the credential",
    ),
    (
        "POST",
        "/api/v1/accounts/verify-email/resend",
        "answers the same for any address",
    ),
    ("POST", "/api/v1/sessions", "signing in"),
    ("GET", "/api/v1/plans", "the plans and prices are public"),
    (
        "POST",
        "/api/v1/billing/webhook",
        "the payment provider's signature on the body is the credential",
    ),
    (
        "POST",
        "/api/v1/password-resets",
        "answers the same for any address",
    ),
    (
        "POST",
        "/api/v1/password-resets/confirm",
        "the mailed token is the credential",
    ),
    (
        "POST",
        "/api/v1/username-reminders",
        "answers the same for any address",
    ),
    (
        "POST",
        "/api/v1/me/email/confirm",
        "the token mailed to the new address is the credential",
    ),
    (
        "GET",
        "/api/v1/captcha",
        "a challenge is asked for before signing in",
    ),
    (
        "GET",
        "/api/v1/invites/{token}",
        "the invite's token is the credential (a preview)",
    ),
    (
        "GET",
        "/api/v1/users/{username}",
        "public profiles; private ones are not found",
    ),
    (
        "GET",
        "/api/v1/avatars/{id}",
        "avatars of public profiles; others are not found",
    ),
];

/// Every endpoint that needs a signed-in caller, with a body it would accept.
fn authenticated_endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/me", None),
        (Method::GET, "/api/v1/me/support-requests", None),
        (
            Method::POST,
            "/api/v1/me/support-requests",
            Some(json!({ "category": "account", "subject": "Hi", "body": "Help" })),
        ),
        (
            Method::PATCH,
            "/api/v1/me",
            Some(json!({ "display_name": "X" })),
        ),
        (Method::GET, "/api/v1/me/sessions", None),
        (
            Method::DELETE,
            "/api/v1/me/sessions/0195f7a0-0000-7000-8000-000000000000",
            None,
        ),
        (
            Method::POST,
            "/api/v1/me/sessions/revoke-others",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/me/password",
            Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
        ),
        (
            Method::POST,
            "/api/v1/me/email",
            Some(json!({ "new_email": "new@example.com", "password": PASSWORD })),
        ),
        (Method::GET, "/api/v1/me/notification-preferences", None),
        (
            Method::PUT,
            "/api/v1/me/notification-preferences",
            Some(json!({ "preferences": {} })),
        ),
        (Method::GET, "/api/v1/me/notifications", None),
        (
            Method::POST,
            "/api/v1/me/notifications/read",
            Some(json!({})),
        ),
        (Method::GET, "/api/v1/me/api-keys", None),
        (
            Method::POST,
            "/api/v1/me/api-keys",
            Some(json!({ "name": "x" })),
        ),
        (
            Method::DELETE,
            "/api/v1/me/api-keys/0195f7a0-0000-7000-8000-000000000000",
            None,
        ),
        (Method::PUT, "/api/v1/me/avatar", None),
        (Method::DELETE, "/api/v1/me/avatar", None),
        (Method::DELETE, "/api/v1/sessions/current", None),
        (
            Method::POST,
            "/api/v1/device-authorizations/approve",
            Some(json!({ "user_code": "BCDF-GHJK" })),
        ),
    ]
}

async fn session_ids(t: &TestApp, token: &str) -> Vec<String> {
    let r = t.get("/api/v1/me/sessions", Some(token)).await;
    r.assert(200, None);
    r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn current_session_id(t: &TestApp, token: &str) -> String {
    let r = t.get("/api/v1/me/sessions", Some(token)).await;
    r.assert(200, None);
    r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session is listed")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_key(t: &TestApp, token: &str, name: &str) -> (String, String) {
    let r = t
        .post("/api/v1/me/api-keys", Some(token), json!({ "name": name }))
        .await;
    r.assert(201, None);
    (
        r.body["api_key"]["id"].as_str().unwrap().to_owned(),
        r.body["key"].as_str().unwrap().to_owned(),
    )
}

async fn me(t: &TestApp, auth: &str) -> Value {
    let r = t.get("/api/v1/me", Some(auth)).await;
    r.assert(200, None);
    r.body["user"].clone()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([10, 120, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn put_avatar(t: &TestApp, token: &str) -> Resp {
    let r = t
        .client
        .put(t.url("/api/v1/me/avatar"))
        .bearer_auth(token)
        .header("content-type", "image/png")
        .body(png(300, 200))
        .send()
        .await
        .expect("request sent");
    TestApp::read(r).await
}

fn avatar_path(user: &Value) -> String {
    let url = user["avatar_url"].as_str().expect("an avatar URL");
    url[url.find("/api/v1/avatars/").expect("an avatar path")..].to_owned()
}

async fn every_authenticated_endpoint_needs_credentials(db: Db) {
    let t = TestApp::spawn(db).await;
    // A real account exists, so the checks are not trivially empty.
    let ada = t.new_user("ada").await;
    let made_up = format!("prs_{}", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
    assert_eq!(made_up.len(), 4 + 43);
    for (method, path, body) in authenticated_endpoints() {
        for auth in [None, Some(made_up.as_str())] {
            let r = t.request(method.clone(), path, auth, body.clone()).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (401, "unauthenticated"),
                "{method} {path} with {auth:?}: {}",
                r.body
            );
        }
        // Malformed headers are no better.
        let mut req = t
            .client
            .request(method.clone(), t.url(path))
            .header("authorization", format!("Basic {ada}"));
        if let Some(body) = &body {
            req = req.json(body);
        }
        let r = TestApp::read(req.send().await.unwrap()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "unauthenticated"),
            "{method} {path} with a Basic header: {}",
            r.body
        );
        let mut req = t
            .client
            .request(method.clone(), t.url(path))
            .bearer_auth("prs_short");
        if let Some(body) = &body {
            req = req.json(body);
        }
        let r = TestApp::read(req.send().await.unwrap()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "unauthenticated"),
            "{method} {path} with a malformed token: {}",
            r.body
        );
    }
    // A signed-out session is as good as none.
    let gone = t.sign_in("ada", PASSWORD, false).await;
    t.delete("/api/v1/sessions/current", Some(&gone))
        .await
        .assert(204, None);
    for (method, path, body) in authenticated_endpoints() {
        let r = t.request(method.clone(), path, Some(&gone), body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "unauthenticated"),
            "{method} {path} with a signed-out session: {}",
            r.body
        );
    }
    // And nothing happened to the account.
    let user = me(&t, &ada).await;
    assert_eq!(user["display_name"], Value::Null);
    assert_eq!(user["email"], "ada@example.com");
    t.sign_in("ada", PASSWORD, false).await;
}

async fn sessions_of_others_cannot_be_seen_or_ended(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.new_user("bob").await;
    let b2 = t.sign_in("bob", PASSWORD, true).await;
    let b_sessions = session_ids(&t, &b).await;
    assert_eq!(b_sessions.len(), 2);
    let a_sessions = session_ids(&t, &a).await;
    assert_eq!(a_sessions.len(), 1);
    assert!(a_sessions.iter().all(|id| !b_sessions.contains(id)));

    for id in &b_sessions {
        t.delete(&format!("/api/v1/me/sessions/{id}"), Some(&a))
            .await
            .assert(404, Some("not_found"));
    }
    t.delete("/api/v1/me/sessions/made-up", Some(&a))
        .await
        .assert(404, Some("not_found"));
    // The same with an API key of A's.
    let (_, a_key) = create_key(&t, &a, "script").await;
    t.delete(
        &format!("/api/v1/me/sessions/{}", b_sessions[0]),
        Some(&a_key),
    )
    .await
    .assert(404, Some("not_found"));
    assert_eq!(session_ids(&t, &a_key).await, a_sessions);

    // B's sessions still work and are all still there.
    me(&t, &b).await;
    me(&t, &b2).await;
    let mut still = session_ids(&t, &b).await;
    let mut before = b_sessions.clone();
    still.sort();
    before.sort();
    assert_eq!(still, before);
    // A's list never shows them.
    let a_now = session_ids(&t, &a).await;
    assert!(a_now.iter().all(|id| !b_sessions.contains(id)), "{a_now:?}");

    // B can end their own.
    let b2_id = current_session_id(&t, &b2).await;
    t.delete(&format!("/api/v1/me/sessions/{b2_id}"), Some(&b))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&b2))
        .await
        .assert(401, Some("unauthenticated"));
    me(&t, &a).await;
}

async fn revoking_other_sessions_leaves_other_people_alone(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let a2 = t.sign_in("ada", PASSWORD, false).await;
    let b = t.new_user("bob").await;
    let b2 = t.sign_in("bob", PASSWORD, true).await;

    let r = t
        .post("/api/v1/me/sessions/revoke-others", Some(&a), json!({}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["revoked"], 1);
    t.get("/api/v1/me", Some(&a2))
        .await
        .assert(401, Some("unauthenticated"));
    me(&t, &a).await;
    me(&t, &b).await;
    me(&t, &b2).await;
    assert_eq!(session_ids(&t, &b).await.len(), 2);

    // A's password change signs out A's other sessions only.
    let a3 = t.sign_in("ada", PASSWORD, false).await;
    t.post(
        "/api/v1/me/password",
        Some(&a),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    t.get("/api/v1/me", Some(&a3))
        .await
        .assert(401, Some("unauthenticated"));
    me(&t, &b).await;
    me(&t, &b2).await;
    t.sign_in("bob", PASSWORD, false).await;
}

async fn api_keys_of_others_cannot_be_seen_or_revoked(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.new_user("bob").await;
    let (b_key_id, b_key) = create_key(&t, &b, "bob's script").await;
    let (a_key_id, a_key) = create_key(&t, &a, "ada's script").await;

    for auth in [&a, &a_key] {
        t.delete(&format!("/api/v1/me/api-keys/{b_key_id}"), Some(auth))
            .await
            .assert(404, Some("not_found"));
        let list = t.get("/api/v1/me/api-keys", Some(auth)).await;
        list.assert(200, None);
        let ids: Vec<&str> = list.body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [a_key_id.as_str()]);
        assert!(!list.body.to_string().contains("bob"), "{}", list.body);
    }
    // B's key still works, as B.
    let user = me(&t, &b_key).await;
    assert_eq!(user["username"], "bob");
    let user = me(&t, &a_key).await;
    assert_eq!(user["username"], "ada");
    let list = t.get("/api/v1/me/api-keys", Some(&b)).await;
    assert_eq!(list.body["api_keys"][0]["id"], b_key_id.as_str());
    assert_eq!(list.body["api_keys"].as_array().unwrap().len(), 1);

    // B can revoke it; then A's is unaffected.
    t.delete(&format!("/api/v1/me/api-keys/{b_key_id}"), Some(&b))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&b_key))
        .await
        .assert(401, Some("invalid_api_key"));
    me(&t, &a_key).await;
    // Nor can B revoke A's.
    t.delete(&format!("/api/v1/me/api-keys/{a_key_id}"), Some(&b))
        .await
        .assert(404, Some("not_found"));
    me(&t, &a_key).await;
}

async fn private_profiles_and_avatars_of_others_are_not_found(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.new_user("bob").await;
    t.patch(
        "/api/v1/me",
        Some(&b),
        json!({ "display_name": "Bob", "bio": "private person" }),
    )
    .await
    .assert(200, None);
    let r = put_avatar(&t, &b).await;
    r.assert(200, None);
    let b_avatar = avatar_path(&r.body["user"]);
    let (a_key_id, a_key) = create_key(&t, &a, "ada's script").await;
    let _ = a_key_id;

    for auth in [None, Some(a.as_str()), Some(a_key.as_str())] {
        t.get("/api/v1/users/bob", auth)
            .await
            .assert(404, Some("not_found"));
        t.get(&b_avatar, auth).await.assert(404, Some("not_found"));
        // Same answer as for someone who does not exist at all.
        t.get("/api/v1/users/nobody-here", auth)
            .await
            .assert(404, Some("not_found"));
        t.get("/api/v1/avatars/0195f7a0-0000-7000-8000-000000000000", auth)
            .await
            .assert(404, Some("not_found"));
    }
    // B sees their own avatar.
    let r = t
        .client
        .get(t.url(&b_avatar))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A's own avatar and public switch do not expose B.
    put_avatar(&t, &a).await.assert(200, None);
    t.patch("/api/v1/me", Some(&a), json!({ "profile_public": true }))
        .await
        .assert(200, None);
    t.get("/api/v1/users/ada", None).await.assert(200, None);
    t.get("/api/v1/users/bob", Some(&a))
        .await
        .assert(404, Some("not_found"));
    t.get(&b_avatar, Some(&a))
        .await
        .assert(404, Some("not_found"));
    // A cannot delete B's avatar: DELETE /me/avatar is A's own.
    t.delete("/api/v1/me/avatar", Some(&a))
        .await
        .assert(204, None);
    t.delete("/api/v1/me/avatar", Some(&a))
        .await
        .assert(404, Some("not_found"));
    let user = me(&t, &b).await;
    assert!(user["avatar_url"].is_string());
    let r = t
        .client
        .get(t.url(&b_avatar))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn notifications_of_others_cannot_be_seen_or_marked_read(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.new_user("bob").await;
    t.post(
        "/api/v1/me/password",
        Some(&b),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    let page = t.get("/api/v1/me/notifications", Some(&b)).await;
    page.assert(200, None);
    assert_eq!(page.body["unread_count"], 1);
    let b_note = page.body["notifications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let page = t.get("/api/v1/me/notifications", Some(&a)).await;
    page.assert(200, None);
    assert_eq!(page.body["notifications"], json!([]));
    assert_eq!(page.body["unread_count"], 0);
    // Paging from B's notification shows A nothing of B's.
    let page = t
        .get(
            &format!("/api/v1/me/notifications?before={b_note}"),
            Some(&a),
        )
        .await;
    page.assert(200, None);
    assert_eq!(page.body["notifications"], json!([]));

    t.post(
        "/api/v1/me/notifications/read",
        Some(&a),
        json!({ "ids": [b_note] }),
    )
    .await
    .assert(204, None);
    t.post("/api/v1/me/notifications/read", Some(&a), json!({}))
        .await
        .assert(204, None);
    let page = t.get("/api/v1/me/notifications", Some(&b)).await;
    assert_eq!(page.body["unread_count"], 1);
    assert_eq!(page.body["notifications"][0]["read"], false);
}

async fn changing_my_account_never_touches_another(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let b = t.new_user("bob").await;
    let b_before = me(&t, &b).await;

    t.patch(
        "/api/v1/me",
        Some(&a),
        json!({ "display_name": "Ada", "bio": "hi", "links": ["https://ada.example"], "profile_public": true }),
    )
    .await
    .assert(200, None);
    // A cannot take B's name or address.
    t.patch("/api/v1/me", Some(&a), json!({ "username": "BOB" }))
        .await
        .assert(409, Some("username_taken"));
    t.post(
        "/api/v1/me/email",
        Some(&a),
        json!({ "new_email": "bob@example.com", "password": PASSWORD }),
    )
    .await
    .assert(409, Some("email_taken"));
    // There is no way to name another account in these requests.
    t.patch("/api/v1/me", Some(&a), json!({ "id": b_before["id"] }))
        .await
        .assert(422, Some("invalid_body"));
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&a),
        json!({ "preferences": { "email": { "security": false } } }),
    )
    .await
    .assert(200, None);

    assert_eq!(me(&t, &b).await, b_before);
    let prefs = t.get("/api/v1/me/notification-preferences", Some(&b)).await;
    assert_eq!(prefs.body["preferences"]["email"]["security"], true);
    t.get("/api/v1/users/bob", None)
        .await
        .assert(404, Some("not_found"));
    let a_user = me(&t, &a).await;
    assert_eq!(a_user["username"], "ada");
    assert_eq!(a_user["display_name"], "Ada");
}

async fn signing_out_with_an_api_key_is_refused(db: Db) {
    let t = TestApp::spawn(db).await;
    let a = t.new_user("ada").await;
    let (_, key) = create_key(&t, &a, "script").await;
    t.delete("/api/v1/sessions/current", Some(&key))
        .await
        .assert(400, Some("not_a_session"));
    // Nothing was ended.
    me(&t, &key).await;
    me(&t, &a).await;
    assert_eq!(session_ids(&t, &a).await.len(), 1);
    // With the session itself it works.
    t.delete("/api/v1/sessions/current", Some(&a))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&a))
        .await
        .assert(401, Some("unauthenticated"));
    t.delete("/api/v1/sessions/current", Some(&a))
        .await
        .assert(401, Some("unauthenticated"));
    // The key outlives the session it was made with.
    me(&t, &key).await;
}

/// A path of the document with its parameters filled in.
fn fill(template: &str, team: &str) -> String {
    let mut path = String::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        path.push_str(match segment {
            "{team}" => team,
            "{domain}" => "acme.test",
            "{token}" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
            "{username}" => "ada",
            s if s.starts_with('{') => "0195f7a0-0000-7000-8000-000000000000",
            s => s,
        });
    }
    path
}

async fn every_route_of_the_openapi_document_is_guarded(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let outsider = t.new_user("olga").await;
    t.post(
        "/api/v1/teams",
        Some(&ada),
        json!({ "name": "Acme", "slug": "acme" }),
    )
    .await
    .assert(201, None);
    let r = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "ro", "scopes": ["read"] }),
        )
        .await;
    r.assert(201, None);
    let read_only = r.body["key"].as_str().unwrap().to_owned();
    let made_up = format!("prs_{}", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");

    let doc = t.get("/api/openapi.json", None).await.body;
    let mut checked = 0;
    let mut public = Vec::new();
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().unwrap() {
            let method_name = method.to_uppercase();
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let listed = PUBLIC_ROUTES
                .iter()
                .any(|(m, p, _)| *m == method_name && p == template);
            if !secured {
                assert!(
                    listed,
                    "{method_name} {template} declares no security: guard it, or add it to \
                     PUBLIC_ROUTES with the reason it is open"
                );
                public.push((method_name, template.clone()));
                continue;
            }
            assert!(
                !listed,
                "{method_name} {template} is secured but listed as public"
            );
            let method = Method::from_bytes(method_name.as_bytes()).unwrap();
            let body = (method != Method::GET).then(|| json!({}));
            let path = fill(template, "acme");
            for auth in [None, Some(made_up.as_str())] {
                let r = t.request(method.clone(), &path, auth, body.clone()).await;
                assert_eq!(
                    (r.status.as_u16(), r.code()),
                    (401, "unauthenticated"),
                    "{method_name} {path} with {auth:?}: {}",
                    r.body
                );
            }
            if method != Method::GET {
                let r = t
                    .request(method.clone(), &path, Some(&read_only), body.clone())
                    .await;
                assert_eq!(
                    r.status.as_u16(),
                    403,
                    "{method_name} {path} with a read-only key: {}",
                    r.body
                );
            }
            if template.starts_with("/api/v1/teams/{team}") {
                // An outsider learns nothing: the team answers exactly like
                // one that does not exist, and never with a success.
                let real = t
                    .request(method.clone(), &path, Some(&outsider), body.clone())
                    .await;
                let missing = t
                    .request(
                        method.clone(),
                        &fill(template, "no-such-team"),
                        Some(&outsider),
                        body.clone(),
                    )
                    .await;
                assert!(
                    real.status.is_client_error(),
                    "{method_name} {path} as an outsider: {}",
                    real.body
                );
                assert_eq!(
                    (real.status, real.code()),
                    (missing.status, missing.code()),
                    "{method_name} {path} as an outsider tells the team exists"
                );
            }
            checked += 1;
        }
    }
    // Every exemption names a route that exists and is open.
    for (m, p, reason) in PUBLIC_ROUTES {
        assert!(
            public.iter().any(|(pm, pp)| pm == m && pp == p),
            "PUBLIC_ROUTES lists {m} {p} ({reason}), which the document does not have as open"
        );
    }
    assert!(checked >= 40, "only {checked} secured routes were found");
    // Nothing happened to anyone meanwhile.
    t.get("/api/v1/teams/acme", Some(&ada))
        .await
        .assert(200, None);
    assert_eq!(me(&t, &ada).await["display_name"], Value::Null);
}
