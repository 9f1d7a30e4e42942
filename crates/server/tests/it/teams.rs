//! Teams through the API (T1-T6, T8, T9, A3), on SQLite and PostgreSQL:
//! every endpoint's happy path, each bad input with its status and code,
//! seats under concurrent invites, domain verification against a real (tiny)
//! DNS server, and the audit log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::common::{Db, TestApp, PASSWORD};
use hickory_resolver::proto::op::{Message, MessageType, OpCode};
use hickory_resolver::proto::rr::{rdata::TXT, RData, Record, RecordType};
use postroom_server::domain::dns::{LookupError, LookupFuture, StaticResolver, TxtResolver};
use serde_json::{json, Value};

on_both_databases!(
    creating_a_team_makes_me_its_admin,
    creating_a_team_checks_its_input,
    renaming_a_team,
    the_new_user_story,
    invite_by_email_then_sign_up_and_accept,
    invite_links_work_once_for_anyone,
    accepting_checks_the_invite,
    inviting_checks_its_input,
    concurrent_invites_never_exceed_the_seats,
    concurrent_accepts_of_one_link_let_one_in,
    removed_members_lose_access_at_once,
    an_admin_deletes_a_team_and_members_are_told,
    leaving_and_removing,
    roles_and_the_last_admin,
    support_roles_take_no_seat,
    domain_verification_by_dns,
    discovery_and_join_requests,
    the_operator_verifies_domains,
    audit_log_pages_newest_first,
    junk_in_paths_is_not_found,
    an_admin_cannot_prove_an_address_with_their_own_invite,
    team_creation_and_invite_mails_are_limited_per_account,
);

// Helpers.

fn team(slug: &str, rest: &str) -> String {
    format!("/api/v1/teams/{slug}{rest}")
}

async fn user_id(t: &TestApp, token: &str) -> String {
    let r = t.get("/api/v1/me", Some(token)).await;
    r.assert(200, None);
    r.body["user"]["id"].as_str().unwrap().to_owned()
}

/// Signs up with `email`, confirms it, signs in; returns the session token.
async fn user_with_email(t: &TestApp, username: &str, email: &str) -> String {
    t.sign_up(email, username).await.assert(201, None);
    let token = t.link_token(email, "/verify-email").await;
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(200, None);
    t.sign_in(username, PASSWORD, false).await
}

/// Signs up without confirming the address; returns the session token.
async fn unverified_user(t: &TestApp, username: &str, email: &str) -> String {
    t.sign_up(email, username).await.assert(201, None);
    t.sign_in(username, PASSWORD, false).await
}

async fn create_team(t: &TestApp, token: &str, name: &str, slug: &str) -> Value {
    let r = t
        .post(
            "/api/v1/teams",
            Some(token),
            json!({ "name": name, "slug": slug }),
        )
        .await;
    r.assert(201, None);
    r.body["team"].clone()
}

/// Makes a link invite and returns its token.
async fn link_invite(t: &TestApp, admin: &str, slug: &str) -> String {
    let r = t
        .post(
            &team(slug, "/invites"),
            Some(admin),
            json!({ "email": null }),
        )
        .await;
    r.assert(201, None);
    r.body["invite"]["token"].as_str().unwrap().to_owned()
}

/// Adds `member` to the team through a link invite.
async fn join_by_link(t: &TestApp, admin: &str, slug: &str, member: &str) {
    let token = link_invite(t, admin, slug).await;
    t.post(
        &format!("/api/v1/invites/{token}/accept"),
        Some(member),
        json!({}),
    )
    .await
    .assert(200, None);
}

async fn audit_kinds(t: &TestApp, admin: &str, slug: &str) -> Vec<String> {
    let r = t
        .get(&team(slug, "/audit-log?limit=200"), Some(admin))
        .await;
    r.assert(200, None);
    let mut kinds: Vec<String> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

fn seats(team_or_list: &Value) -> (u64, u64, u64, u64) {
    let s = &team_or_list["seats"];
    (
        s["total"].as_u64().unwrap(),
        s["members"].as_u64().unwrap(),
        s["pending_invites"].as_u64().unwrap(),
        s["available"].as_u64().unwrap(),
    )
}

// Teams (T1).

async fn creating_a_team_makes_me_its_admin(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let created = create_team(&t, &ada, " Acme Labs ", "Acme-Labs").await;
    assert_eq!(created["name"], "Acme Labs");
    assert_eq!(created["slug"], "acme-labs");
    assert_eq!(created["plan"], "free");
    assert_eq!(created["discoverable"], false);
    assert_eq!(created["membership"]["role"], "admin");
    assert_eq!(created["membership"]["support_only"], false);
    assert_eq!(seats(&created), (3, 1, 0, 2));

    let mine = t.get("/api/v1/teams", Some(&ada)).await;
    mine.assert(200, None);
    assert_eq!(mine.body["teams"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["teams"][0]["slug"], "acme-labs");
    let one = t.get(&team("ACME-labs", ""), Some(&ada)).await;
    one.assert(200, None);
    assert_eq!(one.body["team"]["id"], created["id"]);

    let members = t.get(&team("acme-labs", "/members"), Some(&ada)).await;
    members.assert(200, None);
    assert_eq!(members.body["members"][0]["user"]["username"], "ada");
    assert_eq!(members.body["members"][0]["role"], "admin");
    assert_eq!(seats(&members.body), (3, 1, 0, 2));

    let bob = t.new_user("bob").await;
    let theirs = t.get("/api/v1/teams", Some(&bob)).await;
    assert_eq!(theirs.body["teams"], json!([]));
    assert_eq!(audit_kinds(&t, &ada, "acme-labs").await, ["created"]);
}

async fn creating_a_team_checks_its_input(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = t
        .post(
            "/api/v1/teams",
            Some(&ada),
            json!({ "name": " ", "slug": "a" }),
        )
        .await;
    r.assert(422, Some("validation_failed"));
    assert!(r.body["error"]["fields"]["name"].is_string());
    assert!(r.body["error"]["fields"]["slug"].is_string());
    for slug in [
        "ab",
        "-acme",
        "acme-",
        "ac--me",
        "acme_labs",
        "acme.io",
        "api",
        "settings",
        &"a".repeat(40),
    ] {
        let r = t
            .post(
                "/api/v1/teams",
                Some(&ada),
                json!({ "name": "Acme", "slug": slug }),
            )
            .await;
        r.assert(422, Some("validation_failed"));
        assert!(r.body["error"]["fields"]["slug"].is_string(), "{slug}");
    }
    t.post(
        "/api/v1/teams",
        Some(&ada),
        json!({ "name": "x".repeat(101), "slug": "acme" }),
    )
    .await
    .assert(422, Some("validation_failed"));
    t.post("/api/v1/teams", Some(&ada), json!({ "name": "Acme" }))
        .await
        .assert(422, Some("invalid_body"));
    create_team(&t, &ada, "Acme", "acme").await;
    let r = t
        .post(
            "/api/v1/teams",
            Some(&ada),
            json!({ "name": "Other", "slug": "ACME" }),
        )
        .await;
    r.assert(409, Some("slug_taken"));
    assert!(r.body["error"]["fields"]["slug"].is_string());
    t.post(
        "/api/v1/teams",
        None,
        json!({ "name": "Acme", "slug": "acme2" }),
    )
    .await
    .assert(401, Some("unauthenticated"));
    let eve = unverified_user(&t, "eve", "eve@example.com").await;
    t.post(
        "/api/v1/teams",
        Some(&eve),
        json!({ "name": "Eve's", "slug": "eves" }),
    )
    .await
    .assert(403, Some("email_not_verified"));
    t.get(&team("nope", ""), Some(&ada))
        .await
        .assert(404, Some("not_found"));
}

async fn renaming_a_team(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    let r = t
        .patch(
            &team("acme", ""),
            Some(&ada),
            json!({ "name": "Acme Labs" }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["team"]["name"], "Acme Labs");
    assert_eq!(r.body["team"]["slug"], "acme");
    // Nothing to change is fine, and records nothing.
    t.patch(&team("acme", ""), Some(&ada), json!({}))
        .await
        .assert(200, None);
    t.patch(&team("acme", ""), Some(&ada), json!({ "name": "" }))
        .await
        .assert(422, Some("validation_failed"));
    // A name that shows as another (right-to-left override, zero-width space).
    for name in ["Acme\u{202E}sbaL", "Acme\u{200B}"] {
        let r = t
            .patch(&team("acme", ""), Some(&ada), json!({ "name": name }))
            .await;
        r.assert(422, Some("validation_failed"));
        assert!(r.body["error"]["fields"]["name"].is_string(), "{}", r.body);
    }
    t.patch(&team("acme", ""), Some(&ada), json!({ "slug": "new" }))
        .await
        .assert(422, Some("invalid_body"));
    t.patch(&team("acme", ""), Some(&bob), json!({ "name": "Mine" }))
        .await
        .assert(403, Some("admin_required"));
    let seen = t.get(&team("acme", ""), Some(&bob)).await;
    assert_eq!(seen.body["team"]["name"], "Acme Labs");
    assert_eq!(seen.body["team"]["membership"]["role"], "member");
    let log = t.get(&team("acme", "/audit-log"), Some(&ada)).await;
    assert_eq!(log.body["entries"][0]["kind"], "renamed");
    assert_eq!(
        log.body["entries"][0]["summary"],
        "ada renamed the team from Acme to Acme Labs"
    );
}

// Invites (T3, T4) and removal (T5).

/// The walk-through: two people sign up, one creates a team and
/// invites the other by email and a third by link, the seats block a fourth,
/// an invite is cancelled, and a removed member loses access at once.
async fn the_new_user_story(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;

    let by_mail = t
        .post(
            &team("acme", "/invites"),
            Some(&ada),
            json!({ "email": "bob@example.com" }),
        )
        .await;
    by_mail.assert(201, None);
    assert_eq!(by_mail.body["invite"]["email"], "bob@example.com");
    assert_eq!(by_mail.body["invite"]["status"], "pending");
    assert_eq!(by_mail.body["invite"]["invited_by"], "ada");
    let mail = t
        .mail_to("bob@example.com", "ada invited you to join Acme")
        .await;
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    let bob_token = crate::common::token_in(&mail, "/invite").expect("the mail carries the link");
    assert_eq!(by_mail.body["invite"]["token"], bob_token.as_str());
    assert!(by_mail.body["invite"]["link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/invite?token={bob_token}")));

    let by_link = t
        .post(&team("acme", "/invites"), Some(&ada), json!({}))
        .await;
    by_link.assert(201, None);
    assert_eq!(by_link.body["invite"]["email"], Value::Null);
    let link_token = by_link.body["invite"]["token"].as_str().unwrap().to_owned();

    // Ada holds a seat, the two invites hold the other two.
    t.post(
        &team("acme", "/invites"),
        Some(&ada),
        json!({ "email": "dave@example.com" }),
    )
    .await
    .assert(409, Some("no_seats_available"));
    let listed = t.get(&team("acme", "/invites"), Some(&ada)).await;
    listed.assert(200, None);
    assert_eq!(listed.body["invites"].as_array().unwrap().len(), 2);
    // The link can be copied again later.
    assert_eq!(listed.body["invites"][1]["token"], link_token.as_str());

    t.post(
        &format!("/api/v1/invites/{bob_token}/accept"),
        Some(&bob),
        json!({}),
    )
    .await
    .assert(200, None);

    // The link invite is cancelled: its link stops working, its seat is free.
    let link_id = by_link.body["invite"]["id"].as_str().unwrap();
    t.delete(&team("acme", &format!("/invites/{link_id}")), Some(&ada))
        .await
        .assert(204, None);
    let carol = t.new_user("carol").await;
    t.post(
        &format!("/api/v1/invites/{link_token}/accept"),
        Some(&carol),
        json!({}),
    )
    .await
    .assert(400, Some("invite_cancelled"));
    join_by_link(&t, &ada, "acme", &carol).await;
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 3);
    assert_eq!(seats(&members.body), (3, 3, 0, 0));

    // Bob is removed and loses access on his very next request.
    let bob_id = user_id(&t, &bob).await;
    t.get(&team("acme", "/members"), Some(&bob))
        .await
        .assert(200, None);
    t.delete(&team("acme", &format!("/members/{bob_id}")), Some(&ada))
        .await
        .assert(204, None);
    t.get(&team("acme", "/members"), Some(&bob))
        .await
        .assert(404, Some("not_found"));
    t.get(&team("acme", ""), Some(&bob))
        .await
        .assert(404, Some("not_found"));
    assert_eq!(
        t.get("/api/v1/teams", Some(&bob)).await.body["teams"],
        json!([])
    );
    assert_eq!(
        audit_kinds(&t, &ada, "acme").await,
        [
            "created",
            "invited",
            "invited",
            "joined",
            "invite_cancelled",
            "invited",
            "joined",
            "removed"
        ]
    );
}

async fn invite_by_email_then_sign_up_and_accept(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    create_team(&t, &ada, "Acme", "acme").await;
    t.post(
        &team("acme", "/invites"),
        Some(&ada),
        json!({ "email": "Newcomer@Example.com" }),
    )
    .await
    .assert(201, None);
    let token = t.link_token("Newcomer@example.com", "/invite").await;
    // Anyone holding the link may see what it is for.
    let preview = t.get(&format!("/api/v1/invites/{token}"), None).await;
    preview.assert(200, None);
    assert_eq!(preview.body["invite"]["team_name"], "Acme");
    assert_eq!(preview.body["invite"]["team_slug"], "acme");
    assert_eq!(preview.body["invite"]["email"], "Newcomer@example.com");
    assert_eq!(preview.body["invite"]["invited_by"], "ada");
    // Signing up from the invite: the address is not confirmed yet.
    let newcomer = unverified_user(&t, "newcomer", "newcomer@example.com").await;
    let joined = t
        .post(
            &format!("/api/v1/invites/{token}/accept"),
            Some(&newcomer),
            json!({}),
        )
        .await;
    joined.assert(200, None);
    assert_eq!(joined.body["team"]["slug"], "acme");
    assert_eq!(joined.body["team"]["membership"]["role"], "member");
    // Accepting does not confirm the address (an admin can copy the link of
    // an email invite): only the mailed confirmation link does.
    let me = t.get("/api/v1/me", Some(&newcomer)).await;
    assert_eq!(me.body["user"]["email_verified"], false);
    // The invite is used up.
    t.post(
        &format!("/api/v1/invites/{token}/accept"),
        Some(&newcomer),
        json!({}),
    )
    .await
    .assert(400, Some("invite_used"));
    t.get(&format!("/api/v1/invites/{token}"), None)
        .await
        .assert(400, Some("invite_used"));
    let listed = t.get(&team("acme", "/invites"), Some(&ada)).await;
    assert_eq!(listed.body["invites"], json!([]));
}

async fn invite_links_work_once_for_anyone(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let token = link_invite(&t, &ada, "acme").await;
    t.mail_settled().await;
    assert!(
        t.mails_to("bob@example.com")
            .iter()
            .all(|m| !m.contains("/invite?token=")),
        "a link invite sends no mail"
    );
    let r = t
        .post(
            &format!("/api/v1/invites/{token}/accept"),
            Some(&bob),
            json!({}),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["team"]["membership"]["role"], "member");
    t.post(
        &format!("/api/v1/invites/{token}/accept"),
        Some(&carol),
        json!({}),
    )
    .await
    .assert(400, Some("invite_used"));
}

async fn accepting_checks_the_invite(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let mallory = t.new_user("mallory").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let accept = |token: &str| format!("/api/v1/invites/{token}/accept");

    t.post(&accept("made-up"), Some(&bob), json!({}))
        .await
        .assert(404, Some("not_found"));
    t.post(&accept(&"x".repeat(43)), Some(&bob), json!({}))
        .await
        .assert(404, Some("not_found"));
    t.get("/api/v1/invites/made-up", None)
        .await
        .assert(404, Some("not_found"));

    let r = t
        .post(
            &team("acme", "/invites"),
            Some(&ada),
            json!({ "email": "bob@example.com" }),
        )
        .await;
    let token = r.body["invite"]["token"].as_str().unwrap().to_owned();
    t.post(&accept(&token), None, json!({}))
        .await
        .assert(401, Some("unauthenticated"));
    t.post(&accept(&token), Some(&mallory), json!({}))
        .await
        .assert(403, Some("invite_for_another_address"));
    t.post(&accept(&token), Some(&ada), json!({}))
        .await
        .assert(403, Some("invite_for_another_address"));
    t.post(&accept(&token), Some(&bob), json!({}))
        .await
        .assert(200, None);

    // An admin may not join twice through a link.
    let link = link_invite(&t, &ada, "acme").await;
    t.post(&accept(&link), Some(&ada), json!({}))
        .await
        .assert(409, Some("already_a_member"));

    // Cancelled.
    let id = t.get(&team("acme", "/invites"), Some(&ada)).await.body["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.delete(&team("acme", &format!("/invites/{id}")), Some(&ada))
        .await
        .assert(204, None);
    t.post(&accept(&link), Some(&mallory), json!({}))
        .await
        .assert(400, Some("invite_cancelled"));
    t.get(&format!("/api/v1/invites/{link}"), None)
        .await
        .assert(400, Some("invite_cancelled"));
    t.delete(&team("acme", &format!("/invites/{id}")), Some(&ada))
        .await
        .assert(409, Some("invite_not_pending"));
    t.delete(&team("acme", "/invites/no-such-invite"), Some(&ada))
        .await
        .assert(404, Some("not_found"));

    // Expired after 7 days; an expired invite holds no seat.
    let link = link_invite(&t, &ada, "acme").await;
    t.clock.advance(7 * 24 * 3_600_000);
    // Sessions without "keep me signed in" ended meanwhile.
    let ada = t.sign_in("ada", PASSWORD, false).await;
    let mallory = t.sign_in("mallory", PASSWORD, false).await;
    t.post(&accept(&link), Some(&mallory), json!({}))
        .await
        .assert(400, Some("invite_expired"));
    t.get(&format!("/api/v1/invites/{link}"), None)
        .await
        .assert(400, Some("invite_expired"));
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(seats(&members.body), (3, 2, 0, 1));
    assert_eq!(
        t.get(&team("acme", "/invites"), Some(&ada)).await.body["invites"],
        json!([])
    );
}

async fn inviting_checks_its_input(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let invites = team("acme", "/invites");
    t.post(&invites, Some(&ada), json!({ "email": "not an address" }))
        .await
        .assert(422, Some("validation_failed"));
    t.post(&invites, Some(&ada), json!({ "email": "" }))
        .await
        .assert(422, Some("validation_failed"));
    t.post(&invites, Some(&ada), json!({ "email": 5 }))
        .await
        .assert(422, Some("invalid_body"));
    t.post(&invites, Some(&ada), json!({ "email": "ADA@example.com" }))
        .await
        .assert(409, Some("already_a_member"));
    t.post(
        &invites,
        Some(&ada),
        json!({ "email": "carol@example.com" }),
    )
    .await
    .assert(201, None);
    t.post(
        &invites,
        Some(&ada),
        json!({ "email": "Carol@Example.com" }),
    )
    .await
    .assert(409, Some("already_invited"));
    t.post(&invites, None, json!({}))
        .await
        .assert(401, Some("unauthenticated"));
    t.post(&invites, Some(&bob), json!({}))
        .await
        .assert(404, Some("not_found"));
    // An admin whose address is not confirmed may not invite.
    let eve = unverified_user(&t, "eve", "eve@example.com").await;
    join_by_link(&t, &ada, "acme", &eve).await;
    let eve_id = user_id(&t, &eve).await;
    t.put(
        &team("acme", &format!("/members/{eve_id}/role")),
        Some(&ada),
        json!({ "role": "admin" }),
    )
    .await
    .assert(200, None);
    t.post(&invites, Some(&eve), json!({}))
        .await
        .assert(403, Some("email_not_verified"));
}

async fn concurrent_invites_never_exceed_the_seats(db: Db) {
    let t = Arc::new(TestApp::spawn(db).await);
    let ada = t.new_user("ada").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (t, ada) = (t.clone(), ada.clone());
        set.spawn(async move {
            let body = if i % 2 == 0 {
                json!({ "email": format!("person{i}@example.com") })
            } else {
                json!({ "email": null })
            };
            t.post(&team("acme", "/invites"), Some(&ada), body).await
        });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            409 => {
                r.assert(409, Some("no_seats_available"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    // Ada holds one of the 3 seats: exactly the 2 free ones were given out.
    assert_eq!((created, refused), (2, 8));
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(seats(&members.body), (3, 1, 2, 0));
    let listed = t.get(&team("acme", "/invites"), Some(&ada)).await;
    assert_eq!(listed.body["invites"].as_array().unwrap().len(), 2);
}

async fn concurrent_accepts_of_one_link_let_one_in(db: Db) {
    let t = Arc::new(TestApp::spawn(db).await);
    let ada = t.new_user("ada").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let mut people = Vec::new();
    for name in ["bob", "carol", "dave", "erin", "frank"] {
        people.push(t.new_user(name).await);
    }
    let token = link_invite(&t, &ada, "acme").await;
    let mut set = tokio::task::JoinSet::new();
    for person in people {
        let (t, token) = (t.clone(), token.clone());
        set.spawn(async move {
            t.post(
                &format!("/api/v1/invites/{token}/accept"),
                Some(&person),
                json!({}),
            )
            .await
        });
    }
    let mut statuses = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        if r.status.as_u16() != 200 {
            r.assert(400, Some("invite_used"));
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
}

async fn removed_members_lose_access_at_once(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    let bob_id = user_id(&t, &bob).await;
    // Bob's own session keeps working; only the team is gone for him.
    for _ in 0..3 {
        t.get(&team("acme", ""), Some(&bob)).await.assert(200, None);
    }
    t.delete(&team("acme", &format!("/members/{bob_id}")), Some(&ada))
        .await
        .assert(204, None);
    for path in ["", "/members"] {
        t.get(&team("acme", path), Some(&bob))
            .await
            .assert(404, Some("not_found"));
    }
    t.delete(&team("acme", &format!("/members/{bob_id}")), Some(&bob))
        .await
        .assert(404, Some("not_found"));
    t.get("/api/v1/me", Some(&bob)).await.assert(200, None);
    // Removing him again: he is no member.
    t.delete(&team("acme", &format!("/members/{bob_id}")), Some(&ada))
        .await
        .assert(404, Some("not_found"));
    let log = t.get(&team("acme", "/audit-log"), Some(&ada)).await;
    assert_eq!(log.body["entries"][0]["summary"], "ada removed bob");
}

/// An admin deletes a team: members lose it at once and are told by mail;
/// its slug is free again; a member may not delete it.
async fn an_admin_deletes_a_team_and_members_are_told(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    t.post(
        &team("acme", "/invites"),
        Some(&ada),
        json!({ "email": null }),
    )
    .await
    .assert(201, None);
    t.delete(&team("acme", ""), Some(&bob))
        .await
        .assert(403, Some("admin_required"));
    t.delete(&team("acme", ""), Some(&ada))
        .await
        .assert(204, None);
    for who in [&ada, &bob] {
        t.get(&team("acme", ""), Some(who))
            .await
            .assert(404, Some("not_found"));
        let mine = t.get("/api/v1/teams", Some(who)).await;
        assert_eq!(mine.body["teams"], json!([]), "{}", mine.body);
    }
    let mail = crate::common::unfold(&t.mail_to("bob@example.com", "was deleted").await);
    assert!(
        mail.contains("ada, an admin of the team Acme, deleted it"),
        "{mail}"
    );
    assert!(
        t.mails_to("ada@example.com")
            .iter()
            .all(|m| !m.contains("was deleted")),
        "the admin who deleted it is not mailed"
    );
    // The URL name is free again, and the new team starts a new audit log.
    create_team(&t, &ada, "Acme again", "acme").await;
    let log = t.get(&team("acme", "/audit-log"), Some(&ada)).await;
    assert_eq!(
        log.body["entries"].as_array().unwrap().len(),
        1,
        "{}",
        log.body
    );
    t.delete(&team("nope", ""), Some(&ada))
        .await
        .assert(404, Some("not_found"));
}

async fn leaving_and_removing(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    join_by_link(&t, &ada, "acme", &carol).await;
    let (ada_id, bob_id, carol_id) = (
        user_id(&t, &ada).await,
        user_id(&t, &bob).await,
        user_id(&t, &carol).await,
    );
    let member = |id: &str| team("acme", &format!("/members/{id}"));

    // The only admin cannot leave.
    t.delete(&member(&ada_id), Some(&ada))
        .await
        .assert(409, Some("last_admin"));
    // Members cannot remove others, admins included.
    t.delete(&member(&carol_id), Some(&bob))
        .await
        .assert(403, Some("admin_required"));
    t.delete(&member(&ada_id), Some(&bob))
        .await
        .assert(403, Some("admin_required"));
    t.delete(&member("no-such-user"), Some(&ada))
        .await
        .assert(404, Some("not_found"));
    // A member leaves.
    t.delete(&member(&carol_id), Some(&carol))
        .await
        .assert(204, None);
    t.get(&team("acme", ""), Some(&carol))
        .await
        .assert(404, Some("not_found"));
    let role = |id: &str| team("acme", &format!("/members/{id}/role"));
    // Another admin may be removed (a colleague who left): their access
    // ends at once, the audit log says who removed them, and they are told
    // by mail.
    t.put(&role(&bob_id), Some(&ada), json!({ "role": "admin" }))
        .await
        .assert(200, None);
    t.delete(&member(&ada_id), Some(&bob))
        .await
        .assert(204, None);
    for path in ["", "/members"] {
        t.get(&team("acme", path), Some(&ada))
            .await
            .assert(404, Some("not_found"));
    }
    let log = t.get(&team("acme", "/audit-log"), Some(&bob)).await;
    assert_eq!(log.body["entries"][0]["kind"], "removed");
    assert_eq!(log.body["entries"][0]["summary"], "bob removed ada");
    assert_eq!(log.body["entries"][0]["data"]["left"], false);
    let mail = crate::common::unfold(
        &t.mail_to("ada@example.com", "You were removed from the team Acme")
            .await,
    );
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    assert!(
        mail.contains(
            "bob removed you from the team Acme on Postroom; your access to its data ended"
        ),
        "{mail}"
    );
    // Leaving sends no such mail.
    assert!(t
        .mails_to("carol@example.com")
        .iter()
        .all(|m| !m.contains("You were removed")));
    // An admin may leave while another admin is left...
    join_by_link(&t, &bob, "acme", &carol).await;
    t.put(&role(&carol_id), Some(&bob), json!({ "role": "admin" }))
        .await
        .assert(200, None);
    t.delete(&member(&carol_id), Some(&carol))
        .await
        .assert(204, None);
    let log = t.get(&team("acme", "/audit-log"), Some(&bob)).await;
    assert_eq!(log.body["entries"][0]["summary"], "carol left the team");
    // ...but the last admin never goes.
    t.delete(&member(&bob_id), Some(&bob))
        .await
        .assert(409, Some("last_admin"));
    t.get(&team("acme", ""), Some(&bob)).await.assert(200, None);
}

// Roles (T2, T6).

async fn roles_and_the_last_admin(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    join_by_link(&t, &ada, "acme", &carol).await;
    let (ada_id, bob_id, carol_id) = (
        user_id(&t, &ada).await,
        user_id(&t, &bob).await,
        user_id(&t, &carol).await,
    );
    let role = |id: &str| team("acme", &format!("/members/{id}/role"));

    // Bad input.
    t.put(&role(&bob_id), Some(&ada), json!({ "role": "owner" }))
        .await
        .assert(422, Some("invalid_body"));
    t.put(&role(&bob_id), Some(&ada), json!({}))
        .await
        .assert(422, Some("invalid_body"));
    let r = t
        .put(
            &role(&bob_id),
            Some(&ada),
            json!({ "role": "member", "support_only": true }),
        )
        .await;
    r.assert(422, Some("validation_failed"));
    assert!(r.body["error"]["fields"]["support_only"].is_string());
    t.put(
        &role("no-such-user"),
        Some(&ada),
        json!({ "role": "admin" }),
    )
    .await
    .assert(404, Some("not_found"));
    // Members cannot change roles, their own included.
    t.put(&role(&bob_id), Some(&bob), json!({ "role": "admin" }))
        .await
        .assert(403, Some("admin_required"));
    t.put(&role(&carol_id), Some(&bob), json!({ "role": "billing" }))
        .await
        .assert(403, Some("admin_required"));

    // Ada makes Bob an admin and Carol billing.
    let r = t
        .put(&role(&bob_id), Some(&ada), json!({ "role": "admin" }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["member"]["role"], "admin");
    assert_eq!(r.body["member"]["user"]["username"], "bob");
    t.put(&role(&carol_id), Some(&ada), json!({ "role": "billing" }))
        .await
        .assert(200, None);
    // A billing member is not an admin.
    t.put(&role(&carol_id), Some(&carol), json!({ "role": "admin" }))
        .await
        .assert(403, Some("admin_required"));
    // An admin cannot be demoted by another admin...
    t.put(&role(&ada_id), Some(&bob), json!({ "role": "member" }))
        .await
        .assert(403, Some("cannot_demote_admin"));
    t.put(
        &role(&ada_id),
        Some(&bob),
        json!({ "role": "admin", "support_only": true }),
    )
    .await
    .assert(403, Some("cannot_demote_admin"));
    // ...but may step down, while another admin is left.
    let r = t
        .put(&role(&ada_id), Some(&ada), json!({ "role": "member" }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["member"]["role"], "member");
    t.put(&role(&bob_id), Some(&bob), json!({ "role": "billing" }))
        .await
        .assert(409, Some("last_admin"));
    // Ada, now a member, may no longer administer.
    t.patch(&team("acme", ""), Some(&ada), json!({ "name": "X" }))
        .await
        .assert(403, Some("admin_required"));
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    let roles: Vec<(String, String)> = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("bob".into(), "admin".into()),
            ("carol".into(), "billing".into()),
            ("ada".into(), "member".into())
        ]
    );
    let log = t.get(&team("acme", "/audit-log"), Some(&bob)).await;
    assert_eq!(
        log.body["entries"][0]["summary"],
        "ada changed the role of ada from admin to member"
    );
}

async fn support_roles_take_no_seat(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    let dave = t.new_user("dave").await;
    let erin = t.new_user("erin").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    join_by_link(&t, &ada, "acme", &carol).await;
    let ids = [
        user_id(&t, &ada).await,
        user_id(&t, &bob).await,
        user_id(&t, &carol).await,
    ];
    let role = |id: &str| team("acme", &format!("/members/{id}/role"));
    t.post(&team("acme", "/invites"), Some(&ada), json!({}))
        .await
        .assert(409, Some("no_seats_available"));

    // Ada keeps administering without a seat; Bob only handles billing.
    let r = t
        .put(
            &role(&ids[0]),
            Some(&ada),
            json!({ "role": "admin", "support_only": true }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["member"]["support_only"], true);
    t.put(
        &role(&ids[1]),
        Some(&ada),
        json!({ "role": "billing", "support_only": true }),
    )
    .await
    .assert(200, None);
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(seats(&members.body), (3, 1, 0, 2));
    // At most two support-only members.
    t.put(
        &role(&ids[2]),
        Some(&ada),
        json!({ "role": "billing", "support_only": true }),
    )
    .await
    .assert(409, Some("too_many_support_roles"));

    // The freed seats take two more people.
    join_by_link(&t, &ada, "acme", &dave).await;
    join_by_link(&t, &ada, "acme", &erin).await;
    let members = t.get(&team("acme", "/members"), Some(&ada)).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 5);
    assert_eq!(seats(&members.body), (3, 3, 0, 0));
    // Taking a seat back needs a free one.
    t.put(&role(&ids[1]), Some(&ada), json!({ "role": "billing" }))
        .await
        .assert(409, Some("no_seats_available"));
    let mine = t.get(&team("acme", ""), Some(&ada)).await;
    assert_eq!(mine.body["team"]["membership"]["support_only"], true);
}

// Domains and discovery (T8, A3).

/// A tiny DNS server on 127.0.0.1 that answers TXT queries from a map,
/// so verification goes through the real resolver over UDP.
struct DnsServer {
    addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    async fn start() -> DnsServer {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let known = records.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut answer =
                    Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
                answer.metadata.authoritative = true;
                answer.metadata.recursion_desired = query.metadata.recursion_desired;
                answer.metadata.recursion_available = true;
                for q in &query.queries {
                    answer.add_query(q.clone());
                    if q.query_type() != RecordType::TXT {
                        continue;
                    }
                    let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
                    let values = known.lock().unwrap().get(&name).cloned();
                    for value in values.unwrap_or_default() {
                        answer.add_answer(Record::from_rdata(
                            q.name().clone(),
                            0,
                            RData::TXT(TXT::new(vec![value])),
                        ));
                    }
                }
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        DnsServer {
            addr,
            records,
            task,
        }
    }

    fn publish(&self, name: &str, value: &str) {
        self.records
            .lock()
            .unwrap()
            .entry(name.to_lowercase())
            .or_default()
            .push(value.to_owned());
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A resolver that cannot reach any DNS server.
struct BrokenResolver;

impl TxtResolver for BrokenResolver {
    fn lookup_txt<'a>(&'a self, _name: &'a str) -> LookupFuture<'a> {
        Box::pin(async { Err(LookupError::Failed("connection refused".into())) })
    }
}

async fn domain_verification_by_dns(db: Db) {
    let dns = DnsServer::start().await;
    let addr = dns.addr.to_string();
    let t = TestApp::spawn_with(db, |c| c.dns_resolver = Some(addr)).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    join_by_link(&t, &ada, "acme", &bob).await;
    let domains = team("acme", "/domains");

    for bad in ["", "localhost", "acme..test", "1.2.3.4", "acme_corp.test"] {
        t.post(&domains, Some(&ada), json!({ "domain": bad }))
            .await
            .assert(422, Some("validation_failed"));
    }
    let r = t
        .post(&domains, Some(&ada), json!({ "domain": "Acme.Test." }))
        .await;
    r.assert(201, None);
    let d = &r.body["domain"];
    assert_eq!(d["domain"], "acme.test");
    assert_eq!(d["verified"], false);
    assert_eq!(d["txt_name"], "_postroom-verification.acme.test");
    let value = d["txt_value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("postroom-verification="));
    t.post(&domains, Some(&ada), json!({ "domain": "acme.test" }))
        .await
        .assert(409, Some("domain_already_added"));
    t.post(&domains, Some(&bob), json!({ "domain": "bob.test" }))
        .await
        .assert(403, Some("admin_required"));
    t.get(&domains, Some(&bob))
        .await
        .assert(403, Some("admin_required"));

    let verify = team("acme", "/domains/acme.test/verify");
    // Nothing published yet, then a wrong value.
    t.post(&verify, Some(&ada), json!({}))
        .await
        .assert(409, Some("txt_record_not_found"));
    dns.publish(
        "_postroom-verification.acme.test",
        "postroom-verification=wrong",
    );
    t.post(&verify, Some(&ada), json!({}))
        .await
        .assert(409, Some("txt_record_not_found"));
    t.post(&verify, Some(&bob), json!({}))
        .await
        .assert(403, Some("admin_required"));
    t.post(
        &team("acme", "/domains/other.test/verify"),
        Some(&ada),
        json!({}),
    )
    .await
    .assert(404, Some("not_found"));
    dns.publish("_postroom-verification.acme.test", &value);
    let r = t.post(&verify, Some(&ada), json!({})).await;
    r.assert(200, None);
    assert_eq!(r.body["domain"]["verified"], true);
    assert!(r.body["domain"]["verified_at"].is_string());
    // Verifying again is harmless.
    t.post(&verify, Some(&ada), json!({}))
        .await
        .assert(200, None);
    let listed = t.get(&domains, Some(&ada)).await;
    listed.assert(200, None);
    assert_eq!(listed.body["domains"][0]["verified"], true);

    // A domain is verified by one team only.
    let carol = t.new_user("carol").await;
    create_team(&t, &carol, "Rival", "rival").await;
    let r = t
        .post(
            &team("rival", "/domains"),
            Some(&carol),
            json!({ "domain": "acme.test" }),
        )
        .await;
    r.assert(201, None);
    dns.publish(
        "_postroom-verification.acme.test",
        r.body["domain"]["txt_value"].as_str().unwrap(),
    );
    t.post(
        &team("rival", "/domains/acme.test/verify"),
        Some(&carol),
        json!({}),
    )
    .await
    .assert(409, Some("domain_taken"));

    // A resolver that fails says so.
    t.post(&domains, Some(&ada), json!({ "domain": "down.test" }))
        .await
        .assert(201, None);
    t.app.dns.replace(Arc::new(BrokenResolver));
    t.post(
        &team("acme", "/domains/down.test/verify"),
        Some(&ada),
        json!({}),
    )
    .await
    .assert(409, Some("dns_lookup_failed"));

    // Removing a domain.
    t.delete(&team("acme", "/domains/down.test"), Some(&ada))
        .await
        .assert(204, None);
    t.delete(&team("acme", "/domains/down.test"), Some(&ada))
        .await
        .assert(404, Some("not_found"));
    t.delete(&team("acme", "/domains/acme.test"), Some(&bob))
        .await
        .assert(403, Some("admin_required"));
    assert_eq!(
        audit_kinds(&t, &ada, "acme").await,
        [
            "created",
            "invited",
            "joined",
            "domain_added",
            "domain_verified",
            "domain_added",
            "domain_removed"
        ]
    );
    let log = t.get(&team("acme", "/audit-log"), Some(&ada)).await;
    assert_eq!(
        log.body["entries"][2]["summary"],
        "ada verified the domain acme.test by DNS"
    );
}

async fn discovery_and_join_requests(db: Db) {
    let t = TestApp::spawn(db).await;
    let resolver = Arc::new(StaticResolver::new());
    t.app.dns.replace(resolver.clone());
    let ada = user_with_email(&t, "ada", "ada@acme.test").await;
    let bob = user_with_email(&t, "bob", "bob@acme.test").await;
    let carol = user_with_email(&t, "carol", "Carol@ACME.test").await;
    let dave = user_with_email(&t, "dave", "dave@acme.test").await;
    let outsider = user_with_email(&t, "olga", "olga@other.test").await;
    let unconfirmed = unverified_user(&t, "uma", "uma@acme.test").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let discovery = team("acme", "/discovery");
    let join = team("acme", "/join-requests");

    // Discovery needs a verified domain.
    t.patch(&discovery, Some(&ada), json!({ "enabled": true }))
        .await
        .assert(409, Some("no_verified_domain"));
    t.patch(&discovery, Some(&ada), json!({ "enabled": "yes" }))
        .await
        .assert(422, Some("invalid_body"));
    let r = t
        .post(
            &team("acme", "/domains"),
            Some(&ada),
            json!({ "domain": "acme.test" }),
        )
        .await;
    resolver.add(
        r.body["domain"]["txt_name"].as_str().unwrap(),
        r.body["domain"]["txt_value"].as_str().unwrap(),
    );
    t.post(
        &team("acme", "/domains/acme.test/verify"),
        Some(&ada),
        json!({}),
    )
    .await
    .assert(200, None);
    // Verified but not listed until discovery is on.
    assert_eq!(
        t.get("/api/v1/discoverable-teams", Some(&bob)).await.body["teams"],
        json!([])
    );
    t.post(&join, Some(&bob), json!({}))
        .await
        .assert(404, Some("not_found"));
    let r = t
        .patch(&discovery, Some(&ada), json!({ "enabled": true }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["team"]["discoverable"], true);

    // Listed to people with a confirmed address at that domain only.
    let found = t.get("/api/v1/discoverable-teams", Some(&bob)).await;
    found.assert(200, None);
    assert_eq!(
        found.body["teams"],
        json!([{ "name": "Acme", "slug": "acme", "members": 1, "join_request_pending": false }])
    );
    let found = t.get("/api/v1/discoverable-teams", Some(&carol)).await;
    assert_eq!(found.body["teams"].as_array().unwrap().len(), 1);
    for nobody in [&outsider, &unconfirmed] {
        assert_eq!(
            t.get("/api/v1/discoverable-teams", Some(nobody)).await.body["teams"],
            json!([])
        );
        t.post(&join, Some(nobody), json!({}))
            .await
            .assert(404, Some("not_found"));
        // Discovery shows the team, nothing more.
        t.get(&team("acme", ""), Some(nobody))
            .await
            .assert(404, Some("not_found"));
    }
    assert_eq!(
        t.get("/api/v1/discoverable-teams", Some(&ada)).await.body["teams"],
        json!([]),
        "members do not see their own team"
    );
    t.get(&team("acme", ""), Some(&bob))
        .await
        .assert(404, Some("not_found"));
    t.get("/api/v1/discoverable-teams", None)
        .await
        .assert(401, Some("unauthenticated"));

    // Bob and Carol ask to join.
    let r = t.post(&join, Some(&bob), json!({})).await;
    r.assert(201, None);
    assert_eq!(r.body["join_request"]["status"], "pending");
    assert_eq!(r.body["join_request"]["user"]["username"], "bob");
    let bob_request = r.body["join_request"]["id"].as_str().unwrap().to_owned();
    t.post(&join, Some(&bob), json!({}))
        .await
        .assert(409, Some("join_request_pending"));
    t.post(&join, Some(&ada), json!({}))
        .await
        .assert(409, Some("already_a_member"));
    let found = t.get("/api/v1/discoverable-teams", Some(&bob)).await;
    assert_eq!(found.body["teams"][0]["join_request_pending"], true);
    let r = t.post(&join, Some(&carol), json!({})).await;
    let carol_request = r.body["join_request"]["id"].as_str().unwrap().to_owned();
    let r = t.post(&join, Some(&dave), json!({})).await;
    let dave_request = r.body["join_request"]["id"].as_str().unwrap().to_owned();
    let listed = t.get(&join, Some(&ada)).await;
    listed.assert(200, None);
    assert_eq!(listed.body["join_requests"].as_array().unwrap().len(), 3);
    t.get(&join, Some(&bob))
        .await
        .assert(404, Some("not_found"));

    // Approving uses a seat; declining does not.
    let decide = |id: &str, what: &str| team("acme", &format!("/join-requests/{id}/{what}"));
    let r = t
        .post(&decide(&bob_request, "approve"), Some(&ada), json!({}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["member"]["user"]["username"], "bob");
    assert_eq!(r.body["member"]["role"], "member");
    t.get(&team("acme", ""), Some(&bob)).await.assert(200, None);
    t.post(&decide(&bob_request, "approve"), Some(&ada), json!({}))
        .await
        .assert(409, Some("join_request_not_pending"));
    t.post(&decide(&bob_request, "decline"), Some(&ada), json!({}))
        .await
        .assert(409, Some("join_request_not_pending"));
    t.post(&decide("no-such-request", "approve"), Some(&ada), json!({}))
        .await
        .assert(404, Some("not_found"));
    t.post(&decide(&carol_request, "approve"), Some(&bob), json!({}))
        .await
        .assert(403, Some("admin_required"));
    let r = t
        .post(&decide(&carol_request, "decline"), Some(&ada), json!({}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["join_request"]["status"], "declined");
    t.get(&team("acme", ""), Some(&carol))
        .await
        .assert(404, Some("not_found"));
    // One seat left: an invite takes it, and Dave's approval finds none.
    link_invite(&t, &ada, "acme").await;
    t.post(&decide(&dave_request, "approve"), Some(&ada), json!({}))
        .await
        .assert(409, Some("no_seats_available"));

    // Turning discovery off hides the team again.
    t.patch(&discovery, Some(&bob), json!({ "enabled": false }))
        .await
        .assert(403, Some("admin_required"));
    t.patch(&discovery, Some(&ada), json!({ "enabled": false }))
        .await
        .assert(200, None);
    assert_eq!(
        t.get("/api/v1/discoverable-teams", Some(&carol)).await.body["teams"],
        json!([])
    );
    // Removing the last verified domain turns discovery off by itself.
    t.patch(&discovery, Some(&ada), json!({ "enabled": true }))
        .await
        .assert(200, None);
    t.delete(&team("acme", "/domains/acme.test"), Some(&ada))
        .await
        .assert(204, None);
    let r = t.get(&team("acme", ""), Some(&ada)).await;
    assert_eq!(r.body["team"]["discoverable"], false);
    assert_eq!(
        audit_kinds(&t, &ada, "acme").await,
        [
            "created",
            "domain_added",
            "domain_verified",
            "discovery_changed",
            "join_requested",
            "join_requested",
            "join_requested",
            "join_approved",
            "joined",
            "join_declined",
            "invited",
            "discovery_changed",
            "discovery_changed",
            "domain_removed",
            "discovery_changed"
        ]
    );
}

async fn the_operator_verifies_domains(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    create_team(&t, &ada, "Acme", "acme").await;
    // What `postroom verify-domain acme Acme.Test` runs.
    let verified =
        postroom_server::domain::teams::operator_verify_domain(&t.app, "acme", "Acme.Test")
            .await
            .unwrap();
    assert_eq!(verified.domain, "acme.test");
    assert!(verified.verified);
    // Twice is harmless.
    postroom_server::domain::teams::operator_verify_domain(&t.app, "acme", "acme.test")
        .await
        .unwrap();
    let err = postroom_server::domain::teams::operator_verify_domain(&t.app, "nope", "acme.test")
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    let err =
        postroom_server::domain::teams::operator_verify_domain(&t.app, "acme", "not a domain")
            .await
            .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let domains = t.get(&team("acme", "/domains"), Some(&ada)).await;
    assert_eq!(domains.body["domains"][0]["verified"], true);
    t.patch(
        &team("acme", "/discovery"),
        Some(&ada),
        json!({ "enabled": true }),
    )
    .await
    .assert(200, None);
    let log = t.get(&team("acme", "/audit-log"), Some(&ada)).await;
    let entries = log.body["entries"].as_array().unwrap();
    assert_eq!(entries[1]["kind"], "domain_verified");
    assert_eq!(entries[1]["actor"], Value::Null);
    assert_eq!(
        entries[1]["summary"],
        "The operator verified the domain acme.test"
    );
}

// The audit log (T9).

async fn audit_log_pages_newest_first(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    create_team(&t, &ada, "Acme", "acme").await;
    for i in 0..6 {
        t.patch(
            &team("acme", ""),
            Some(&ada),
            json!({ "name": format!("Acme {i}") }),
        )
        .await
        .assert(200, None);
    }
    let mut seqs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => team("acme", &format!("/audit-log?limit=3&before={c}")),
            None => team("acme", "/audit-log?limit=3"),
        };
        let r = t.get(&path, Some(&ada)).await;
        r.assert(200, None);
        for e in r.body["entries"].as_array().unwrap() {
            seqs.push(e["seq"].as_i64().unwrap());
            assert_eq!(e["actor"]["username"], "ada");
            assert!(e["created_at"].is_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seqs, [7, 6, 5, 4, 3, 2, 1]);
    let newest = t.get(&team("acme", "/audit-log?limit=1"), Some(&ada)).await;
    assert_eq!(newest.body["entries"][0]["kind"], "renamed");
    assert_eq!(newest.body["entries"][0]["data"]["to"], "Acme 5");
    for bad in ["abc", "-1", "0"] {
        t.get(
            &team("acme", &format!("/audit-log?before={bad}")),
            Some(&ada),
        )
        .await
        .assert(400, Some("invalid_cursor"));
    }
    t.get(&team("acme", "/audit-log?limit=many"), Some(&ada))
        .await
        .assert(400, Some("invalid_query"));
    join_by_link(&t, &ada, "acme", &bob).await;
    t.get(&team("acme", "/audit-log"), Some(&bob))
        .await
        .assert(403, Some("admin_required"));
}

/// Path segments that cannot be an id or slug (a NUL byte, spaces, very long
/// strings) answer 404 on both databases, never a server error.
async fn junk_in_paths_is_not_found(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    create_team(&t, &ada, "Acme", "acme").await;
    let long = "a".repeat(300);
    for junk in ["%00", "a%20b", "%C3%A4", long.as_str(), "..%2F"] {
        for (method, path) in [
            ("GET", format!("/api/v1/teams/{junk}")),
            ("GET", format!("/api/v1/teams/{junk}/members")),
            ("DELETE", format!("/api/v1/teams/acme/members/{junk}")),
            ("DELETE", format!("/api/v1/teams/acme/invites/{junk}")),
            ("DELETE", format!("/api/v1/teams/acme/domains/{junk}")),
            ("POST", format!("/api/v1/teams/acme/domains/{junk}/verify")),
            (
                "POST",
                format!("/api/v1/teams/acme/join-requests/{junk}/approve"),
            ),
            (
                "POST",
                format!("/api/v1/teams/acme/join-requests/{junk}/decline"),
            ),
            ("GET", format!("/api/v1/invites/{junk}")),
            ("POST", format!("/api/v1/invites/{junk}/accept")),
        ] {
            let r = t
                .request(method.parse().unwrap(), &path, Some(&ada), Some(json!({})))
                .await;
            assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.body);
        }
        let r = t
            .put(
                &format!("/api/v1/teams/acme/members/{junk}/role"),
                Some(&ada),
                json!({ "role": "member" }),
            )
            .await;
        assert_eq!(r.status.as_u16(), 404, "role of {junk}: {}", r.body);
    }
    t.get("/api/v1/teams/acme/audit-log?before=%00", Some(&ada))
        .await
        .assert(400, Some("invalid_cursor"));
}

/// The admin of one team invites an address at another company's domain,
/// copies the invite's link, signs up as that address and accepts: the
/// account does not count as confirmed, so discovery does not offer it the
/// company's team.
async fn an_admin_cannot_prove_an_address_with_their_own_invite(db: Db) {
    let t = TestApp::spawn(db).await;
    t.app.dns.replace(Arc::new(StaticResolver::new()));
    let ada = user_with_email(&t, "ada", "ada@acme.test").await;
    create_team(&t, &ada, "Acme", "acme").await;
    postroom_server::domain::teams::operator_verify_domain(&t.app, "acme", "acme.test")
        .await
        .unwrap();
    t.patch(
        &team("acme", "/discovery"),
        Some(&ada),
        json!({ "enabled": true }),
    )
    .await
    .assert(200, None);

    let mallory = user_with_email(&t, "mallory", "mallory@evil.test").await;
    create_team(&t, &mallory, "Evil", "evil").await;
    let r = t
        .post(
            &team("evil", "/invites"),
            Some(&mallory),
            json!({ "email": "victim@acme.test" }),
        )
        .await;
    r.assert(201, None);
    let token = r.body["invite"]["token"].as_str().unwrap().to_owned();
    let squatter = unverified_user(&t, "victim", "victim@acme.test").await;
    t.post(
        &format!("/api/v1/invites/{token}/accept"),
        Some(&squatter),
        json!({}),
    )
    .await
    .assert(200, None);
    let me = t.get("/api/v1/me", Some(&squatter)).await;
    assert_eq!(me.body["user"]["email_verified"], false);
    let offered = t.get("/api/v1/discoverable-teams", Some(&squatter)).await;
    assert_eq!(offered.body["teams"], json!([]), "{}", offered.body);
    let asked = t
        .post(&team("acme", "/join-requests"), Some(&squatter), json!({}))
        .await;
    assert!(asked.status.is_client_error(), "{}", asked.body);
    let waiting = t.get(&team("acme", "/join-requests"), Some(&ada)).await;
    assert_eq!(waiting.body["join_requests"], json!([]));
}

async fn team_creation_and_invite_mails_are_limited_per_account(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    for n in 0..10 {
        create_team(&t, &ada, &format!("Team {n}"), &format!("team-{n}")).await;
    }
    t.post(
        "/api/v1/teams",
        Some(&ada),
        json!({ "name": "One too many", "slug": "one-too-many" }),
    )
    .await
    .assert(429, Some("rate_limited"));
    // Invite mails count over all of a person's teams (each team's own
    // budget would allow more): 50 an hour. Link invites send no mail.
    let mut sent = 0;
    'teams: for n in 0..10 {
        let slug = format!("team-{n}");
        for _ in 0..20 {
            if sent == 50 {
                break 'teams;
            }
            let r = t
                .post(
                    &team(&slug, "/invites"),
                    Some(&ada),
                    json!({ "email": format!("person{sent}@example.com") }),
                )
                .await;
            r.assert(201, None);
            let id = r.body["invite"]["id"].as_str().unwrap().to_owned();
            t.delete(&team(&slug, &format!("/invites/{id}")), Some(&ada))
                .await
                .assert(204, None);
            sent += 1;
        }
    }
    t.post(
        &team("team-9", "/invites"),
        Some(&ada),
        json!({ "email": "one-more@example.com" }),
    )
    .await
    .assert(429, Some("rate_limited"));
    link_invite(&t, &ada, "team-9").await;
}
