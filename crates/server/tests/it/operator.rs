//! The operator pages (O7, P10): only operators, after a fresh password
//! check; disabling an account ends its sessions and keys and its sign-in;
//! answers to support requests reach the person; every action is in the
//! operator's audit log.

use reqwest::Client;
use serde_json::json;

use crate::common::{Db, TestApp, PASSWORD};
use crate::cookie_auth::browser_signed_in;

on_both_databases!(
    operators_disable_accounts_and_answer_support,
    operators_set_plans_without_payment,
);

async fn get(t: &TestApp, browser: &Client, path: &str) -> (u16, String) {
    let r = browser.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(
    t: &TestApp,
    browser: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let r = browser.post(t.url(path)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, r.text().await.unwrap())
}

async fn operators_disable_accounts_and_answer_support(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.operators = Some("ops@example.com".into())).await;
    let _ops = t.new_user("ops").await;
    let bob = t.new_user("bob").await;
    t.create_team(&bob, "acme").await;

    // Not an operator: the pages do not exist.
    let (bob_browser, bob_csrf) = browser_signed_in(&t, "bob").await;
    assert_eq!(get(&t, &bob_browser, "/admin").await.0, 404);
    assert_eq!(get(&t, &bob_browser, "/admin/users").await.0, 404);
    let (status, _, _) = post(
        &t,
        &bob_browser,
        "/admin/confirm",
        &[("csrf", &bob_csrf), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 404);

    // The operator proves the password first.
    let (ops, csrf) = browser_signed_in(&t, "ops").await;
    let (status, page) = get(&t, &ops, "/admin/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("Enter your password again"), "{page}");
    let (status, _, page) = post(
        &t,
        &ops,
        "/admin/confirm",
        &[
            ("csrf", &csrf),
            ("password", "wrong password"),
            ("next", "/admin/users"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("not correct"), "{page}");
    let (status, location, _) = post(
        &t,
        &ops,
        "/admin/confirm",
        &[
            ("csrf", &csrf),
            ("password", PASSWORD),
            ("next", "/admin/users"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/admin/users"));
    let (status, page) = get(&t, &ops, "/admin/users?q=bo").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(">bob</a>") && !page.contains(">ops</a>"),
        "{page}"
    );
    // The overview shows the readiness checks in words.
    let (status, page) = get(&t, &ops, "/admin").await;
    assert_eq!(status, 200);
    assert!(page.contains("up to date"), "the schema is current: {page}");
    let worker = &page[page.find("<dt>Mail worker</dt>").expect("the mail worker")..];
    assert!(worker[..200].contains("running"), "{worker}");

    // A form without the CSRF token does nothing.
    let bob_id = t.get("/api/v1/me", Some(&bob)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = post(&t, &ops, &format!("/admin/users/{bob_id}/disable"), &[]).await;
    assert_eq!(status, 403);
    t.get("/api/v1/me", Some(&bob)).await.assert(200, None);

    // Disabled: bob's session and key stop at once, and he cannot sign in.
    let key = t
        .post("/api/v1/me/api-keys", Some(&bob), json!({"name": "ci"}))
        .await;
    key.assert(201, None);
    let key = key.body["key"].as_str().unwrap().to_owned();
    let (status, location, _) = post(
        &t,
        &ops,
        &format!("/admin/users/{bob_id}/disable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.contains("user_disabled"), "{location}");
    t.get("/api/v1/me", Some(&bob)).await.assert(401, None);
    let by_key = t
        .request(reqwest::Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(by_key.status, 401);
    let r = reqwest::Client::new()
        .get(t.url("/api/v1/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the API key was revoked");
    t.post(
        "/api/v1/sessions",
        None,
        json!({"login": "bob", "password": PASSWORD}),
    )
    .await
    .assert(403, Some("account_disabled"));
    // A wrong password says nothing of the state.
    t.post(
        "/api/v1/sessions",
        None,
        json!({"login": "bob", "password": "not his password at all"}),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    // His team is told.
    let bob_again_blocked = t.get("/api/v1/teams/acme/audit-log", Some(&bob)).await;
    assert_eq!(bob_again_blocked.status, 401);

    // Enabled again: he signs in, and the team's audit log has both.
    let (status, _, _) = post(
        &t,
        &ops,
        &format!("/admin/users/{bob_id}/enable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let bob = t.sign_in("bob", PASSWORD, false).await;
    let audit = t.get("/api/v1/teams/acme/audit-log", Some(&bob)).await;
    let text = audit.body.to_string();
    assert!(
        text.contains("The operator disabled the account of bob"),
        "{text}"
    );
    assert!(
        text.contains("The operator enabled the account of bob again"),
        "{text}"
    );

    // Support: bob asks, the operator answers, bob sees the answer and gets it by mail.
    let r = t
        .post(
            "/api/v1/me/support-requests",
            Some(&bob),
            json!({"category": "bug", "subject": "Import fails", "body": "The zip is refused."}),
        )
        .await;
    r.assert(201, None);
    let request_id = r.body["id"].as_str().unwrap().to_owned();
    let (_, page) = get(&t, &ops, "/admin/support").await;
    assert!(page.contains("Import fails"), "{page}");
    let (status, _, page) = post(
        &t,
        &ops,
        &format!("/admin/support/{request_id}/answer"),
        &[("csrf", &csrf), ("answer", "")],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    let (status, _, _) = post(
        &t,
        &ops,
        &format!("/admin/support/{request_id}/answer"),
        &[
            ("csrf", &csrf),
            (
                "answer",
                "Export it again from Postman 11;\r\nthe old format is refused.",
            ),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let mine = t.get("/api/v1/me/support-requests", Some(&bob)).await;
    let answered = &mine.body["support_requests"][0];
    assert_eq!(answered["status"], "answered");
    assert_eq!(
        answered["answer"],
        "Export it again from Postman 11;\nthe old format is refused."
    );
    let mail = crate::common::unfold(&t.mail_to("bob@example.com", "Re: Import fails").await);
    assert!(mail.contains("Export it again from Postman 11"), "{mail}");
    let (status, _, _) = post(
        &t,
        &ops,
        &format!("/admin/support/{request_id}/close"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let mine = t.get("/api/v1/me/support-requests", Some(&bob)).await;
    assert_eq!(mine.body["support_requests"][0]["status"], "closed");

    // A new account: the person chooses a password by the mailed link.
    let (status, location, _) = post(
        &t,
        &ops,
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("email", "carol@example.com"),
            ("username", "carol"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let token = t.link_token("carol@example.com", "/reset-password").await;
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({"token": token, "new_password": "carol chooses a long passphrase"}),
    )
    .await
    .assert(200, None);
    t.sign_in("carol", "carol chooses a long passphrase", false)
        .await;

    // bob alone administers acme, where carol now is: he cannot be deleted.
    let carol = t
        .sign_in("carol", "carol chooses a long passphrase", false)
        .await;
    t.join_team(&bob, "acme", &carol).await;
    let (status, _, page) = post(
        &t,
        &ops,
        &format!("/admin/users/{bob_id}/delete"),
        &[("csrf", &csrf), ("confirm", "bob")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("only admin of"), "{page}");
    // Without the confirmation box, nothing is deleted either.
    let carol_id = t.get("/api/v1/me", Some(&carol)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = post(
        &t,
        &ops,
        &format!("/admin/users/{carol_id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = post(
        &t,
        &ops,
        &format!("/admin/users/{carol_id}/delete"),
        &[("csrf", &csrf), ("confirm", "carol")],
    )
    .await;
    assert_eq!(status, 303);
    t.get("/api/v1/me", Some(&carol)).await.assert(401, None);

    // Every action is in the operator's audit log.
    let (_, page) = get(&t, &ops, "/admin/audit").await;
    for action in [
        "signed in",
        "disabled",
        "enabled",
        "answered",
        "closed",
        "created",
        "deleted",
    ] {
        assert!(
            page.contains(&format!("<td>{action}</td>")),
            "{action} is missing: {page}"
        );
    }
    let (_, page) = get(&t, &ops, "/admin/teams").await;
    assert!(page.contains("acme"), "{page}");
}

/// Without a payment provider the operator puts a team on a plan (O7): from
/// the pages and the shell's domain function; seats never drop below what
/// the team uses, Free keeps every member but adds nobody, and the team's
/// audit log and the operator's both say so.
async fn operators_set_plans_without_payment(db: Db) {
    use postroom_server::domain::operator::{self, By};
    let t = TestApp::spawn_with(db, |c| c.operators = Some("ops@example.com".into())).await;
    t.new_user("ops").await;
    let bob = t.new_user("bob").await;
    t.create_team(&bob, "acme").await;
    for name in ["carol", "dave"] {
        let member = t.new_user(name).await;
        t.join_team(&bob, "acme", &member).await;
    }

    let (ops, csrf) = browser_signed_in(&t, "ops").await;
    post(
        &t,
        &ops,
        "/admin/confirm",
        &[
            ("csrf", &csrf),
            ("password", PASSWORD),
            ("next", "/admin/teams"),
        ],
    )
    .await;
    let (status, page) = get(&t, &ops, "/admin/teams").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/admin/teams/acme/plan"), "{page}");

    // Unknown plans and too few seats are refused, and nothing changes.
    let (status, _, page) = post(
        &t,
        &ops,
        "/admin/teams/acme/plan",
        &[("csrf", &csrf), ("plan", "platinum"), ("seats", "")],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("the plans are free, pro, business, enterprise"),
        "{page}"
    );
    let (status, _, page) = post(
        &t,
        &ops,
        "/admin/teams/acme/plan",
        &[("csrf", &csrf), ("plan", "business"), ("seats", "2")],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    let team = t.get("/api/v1/teams/acme", Some(&bob)).await;
    assert_eq!(team.body["team"]["plan"], "free");

    let (status, location, _) = post(
        &t,
        &ops,
        "/admin/teams/acme/plan",
        &[("csrf", &csrf), ("plan", "business"), ("seats", "12")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/teams?flash=plan_set")
    );
    let team = t.get("/api/v1/teams/acme", Some(&bob)).await;
    assert_eq!(team.body["team"]["plan"], "business");
    assert_eq!(team.body["team"]["seats"]["total"], 12);
    t.post(
        "/api/v1/teams/acme/invites",
        Some(&bob),
        json!({ "email": "erin@example.com" }),
    )
    .await
    .assert(201, None);

    // Back to Free: every member stays, nobody new comes in.
    let (name, seats) = operator::set_plan(&t.app, &By::CommandLine, "acme", "free", None)
        .await
        .unwrap();
    assert_eq!((name.as_str(), seats), ("Free", 3));
    let team = t.get("/api/v1/teams/acme", Some(&bob)).await;
    assert_eq!(team.body["team"]["plan"], "free");
    assert_eq!(team.body["team"]["seats"]["members"], 3);
    t.post(
        "/api/v1/teams/acme/invites",
        Some(&bob),
        json!({ "email": "fred@example.com" }),
    )
    .await
    .assert(409, Some("no_seats_available"));

    let audit = t.get("/api/v1/teams/acme/audit-log", Some(&bob)).await;
    let text = audit.body.to_string();
    assert!(
        text.contains("The operator moved the team from Free to Business with 12 seats"),
        "{text}"
    );
    assert!(
        text.contains("The operator moved the team from Business to Free with 3 seats"),
        "{text}"
    );
    let log = operator::audit_log(&t.app, "").await.unwrap();
    assert_eq!(log.iter().filter(|e| e.action == "plan_set").count(), 2);
}
