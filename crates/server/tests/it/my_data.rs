//! Exporting my data and deleting my account (P9). On SQLite and PostgreSQL.

use crate::common::{Db, TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_databases!(
    export_holds_my_data_and_no_secrets,
    deleting_needs_the_password_and_removes_everything,
    teams_i_alone_administer_must_be_handed_over,
);

async fn user_id(t: &TestApp, token: &str) -> String {
    let r = t.get("/api/v1/me", Some(token)).await;
    r.assert(200, None);
    r.body["user"]["id"].as_str().unwrap().to_owned()
}

async fn member_names(t: &TestApp, token: &str, slug: &str) -> Vec<String> {
    let r = t
        .get(&format!("/api/v1/teams/{slug}/members"), Some(token))
        .await;
    r.assert(200, None);
    r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn export_holds_my_data_and_no_secrets(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.patch(
        "/api/v1/me",
        Some(&ada),
        json!({ "display_name": "Ada Lovelace", "links": ["https://ada.example"] }),
    )
    .await
    .assert(200, None);
    let key = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "laptop" }),
        )
        .await;
    key.assert(201, None);
    let secret = key.body["key"].as_str().unwrap().to_owned();
    t.post(
        "/api/v1/me/support-requests",
        Some(&ada),
        json!({ "category": "account", "subject": "Hello", "body": "A question" }),
    )
    .await
    .assert(201, None);
    t.create_team(&ada, "acme").await;
    // A private collection and environment, and one of the team's.
    let mine = json!({"info": {"name": "Mine", "x_extra": [1, null]}, "item": []});
    t.post(
        "/api/v1/collections",
        Some(&ada),
        json!({ "collection": mine }),
    )
    .await
    .assert(201, None);
    t.post(
        "/api/v1/collections",
        Some(&ada),
        json!({ "collection": {"info": {"name": "Ours"}}, "team": "acme" }),
    )
    .await
    .assert(201, None);
    t.post(
        "/api/v1/environments",
        Some(&ada),
        json!({ "environment": {"name": "Env", "values": [{"key": "k", "value": "v"}]} }),
    )
    .await
    .assert(201, None);
    // A sign-in from a second device makes a notification.
    let second = t
        .client
        .post(t.url("/api/v1/sessions"))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        )
        .json(&json!({ "login": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 201);

    let r = t
        .client
        .get(t.url("/api/v1/me/export"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"postroom-ada-20"),
        "{disposition}"
    );
    let text = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "postroom-account-export/1");
    assert_eq!(doc["user"]["username"], "ada");
    assert_eq!(doc["user"]["display_name"], "Ada Lovelace");
    assert_eq!(doc["user"]["links"], json!(["https://ada.example"]));
    assert!(doc["notification_preferences"].is_object());
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(doc["api_keys"][0]["name"], "laptop");
    assert_eq!(doc["teams"][0]["slug"], "acme");
    assert_eq!(doc["support_requests"][0]["subject"], "Hello");
    // My private items as documents; the team's collection is the team's.
    let collections = doc["workspace"]["collections"].as_array().unwrap();
    assert_eq!(collections.len(), 1, "{collections:?}");
    assert_eq!(collections[0]["info"]["name"], "Mine");
    assert_eq!(collections[0]["info"]["x_extra"], json!([1, null]));
    assert_eq!(
        doc["workspace"]["environments"][0]["values"][0]["value"],
        "v"
    );
    assert!(!doc["notifications"].as_array().unwrap().is_empty());
    let activity = doc["activity"].as_array().unwrap();
    assert!(
        activity.iter().any(|e| e["kind"] == "new_sign_in"),
        "{activity:?}"
    );
    // Nothing in it signs anyone in.
    assert!(!text.contains(&secret), "the API key's secret is exported");
    assert!(!text.contains(&ada), "a session token is exported");
    assert!(!text.contains("$argon2"), "the password hash is exported");
    // Only my own data: nothing of Bob's.
    assert!(!text.contains("bob"));

    // Read-only keys may export; nobody else can.
    let read_only = t
        .post(
            "/api/v1/me/api-keys",
            Some(&bob),
            json!({ "name": "ro", "scopes": ["read"] }),
        )
        .await;
    let read_only = read_only.body["key"].as_str().unwrap().to_owned();
    let r = t.get("/api/v1/me/export", Some(&read_only)).await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["username"], "bob");
    t.get("/api/v1/me/export", None)
        .await
        .assert(401, Some("unauthenticated"));
}

async fn deleting_needs_the_password_and_removes_everything(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let other_session = t.sign_in("ada", PASSWORD, true).await;
    let bob = t.new_user("bob").await;
    let key = t
        .post("/api/v1/me/api-keys", Some(&ada), json!({ "name": "ci" }))
        .await;
    let key = key.body["key"].as_str().unwrap().to_owned();
    let read_only = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "ro", "scopes": ["read"] }),
        )
        .await;
    let read_only = read_only.body["key"].as_str().unwrap().to_owned();
    t.create_team(&ada, "solo").await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({ "collection": {"info": {"name": "Mine"}} }),
        )
        .await;
    let collection = r.body["collection"]["id"].as_str().unwrap().to_owned();

    // Refusals change nothing.
    t.request(reqwest::Method::DELETE, "/api/v1/me", Some(&ada), None)
        .await
        .assert(415, None);
    t.request(
        reqwest::Method::DELETE,
        "/api/v1/me",
        Some(&ada),
        Some(json!({})),
    )
    .await
    .assert(422, Some("invalid_body"));
    t.request(
        reqwest::Method::DELETE,
        "/api/v1/me",
        Some(&ada),
        Some(json!({ "password": "not my password" })),
    )
    .await
    .assert(422, Some("wrong_password"));
    t.request(
        reqwest::Method::DELETE,
        "/api/v1/me",
        Some(&read_only),
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .assert(403, Some("insufficient_scope"));
    t.get("/api/v1/me", Some(&ada)).await.assert(200, None);

    t.request(
        reqwest::Method::DELETE,
        "/api/v1/me",
        Some(&ada),
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .assert(204, None);

    // Every way in is gone at once.
    for credential in [&ada, &other_session, &key, &read_only] {
        t.get("/api/v1/me", Some(credential))
            .await
            .assert(401, None);
    }
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    t.get("/api/v1/users/ada", None).await.assert(404, None);
    // The last mail says so.
    let mail = t
        .mail_to("ada@example.com", "Your Postroom account was deleted")
        .await;
    assert!(mail.contains("Hi ada"));
    // Private items and their change log went with the account.
    let mut c = t.app.store.conn().await.unwrap();
    assert!(postroom_server::store::items::by_id(&mut c, &collection)
        .await
        .unwrap()
        .is_none());
    let (left,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM events WHERE scope LIKE 'items:user:%'")
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(
        left, 0,
        "the change log of the deleted account's items is gone"
    );
    drop(c);
    // The team no one else was in went with the account: its name is free.
    t.create_team(&bob, "solo").await;
    // So are the name and the address.
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    // Bob was not touched.
    t.get("/api/v1/me", Some(&bob)).await.assert(200, None);
}

async fn teams_i_alone_administer_must_be_handed_over(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;
    t.create_team(&carol, "carols").await;
    t.join_team(&carol, "carols", &ada).await;
    let delete = json!({ "password": PASSWORD });

    let r = t
        .request(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&ada),
            Some(delete.clone()),
        )
        .await;
    r.assert(409, Some("sole_admin"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("acme"));
    // Nothing happened: Ada is still in both teams.
    t.get("/api/v1/me", Some(&ada)).await.assert(200, None);
    assert_eq!(member_names(&t, &bob, "acme").await.len(), 2);
    assert_eq!(member_names(&t, &carol, "carols").await.len(), 2);

    // Handed over, it goes through.
    let bob_id = user_id(&t, &bob).await;
    t.put(
        &format!("/api/v1/teams/acme/members/{bob_id}/role"),
        Some(&ada),
        json!({ "role": "admin" }),
    )
    .await
    .assert(200, None);
    t.request(
        reqwest::Method::DELETE,
        "/api/v1/me",
        Some(&ada),
        Some(delete),
    )
    .await
    .assert(204, None);
    assert_eq!(member_names(&t, &bob, "acme").await, ["bob"]);
    assert_eq!(member_names(&t, &carol, "carols").await, ["carol"]);
    // Each team's audit log records why Ada left.
    let log = t.get("/api/v1/teams/acme/audit-log", Some(&bob)).await;
    log.assert(200, None);
    let last = &log.body["entries"][0];
    assert_eq!(last["kind"], "removed");
    assert_eq!(last["data"]["account_deleted"], true);
}
