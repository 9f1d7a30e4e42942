//! Support requests (P10): stored, mailed to the operator, listed for their sender.

use crate::common::{Db, TestApp};
use serde_json::json;

on_both_databases!(support_requests_reach_the_operator_and_are_listed);

async fn support_requests_reach_the_operator_and_are_listed(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.support_email = Some("help@example.com".into())).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let body = json!({ "category": "bug", "subject": "Sync stops", "body": "It stops after\nten minutes." });
    let r = t
        .post("/api/v1/me/support-requests", Some(&ada), body)
        .await;
    r.assert(201, None);
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["category"], "bug");
    let mail = t
        .mail_to("help@example.com", "Support request: Sync stops")
        .await;
    assert!(
        mail.contains("ada@example.com"),
        "the operator can answer the sender"
    );
    let mine = t.get("/api/v1/me/support-requests", Some(&ada)).await;
    assert_eq!(mine.body["support_requests"].as_array().unwrap().len(), 1);
    let theirs = t.get("/api/v1/me/support-requests", Some(&bob)).await;
    assert_eq!(theirs.body["support_requests"].as_array().unwrap().len(), 0);
    for (bad, code) in [
        (
            json!({ "category": "bug", "subject": "", "body": "x" }),
            "validation_failed",
        ),
        (
            json!({ "category": "bug", "subject": "x", "body": " " }),
            "validation_failed",
        ),
        (
            json!({ "category": "bug", "subject": "Help\r\nBcc: x@evil.example", "body": "y" }),
            "validation_failed",
        ),
        (
            json!({ "category": "bug", "subject": "Help\u{b}me", "body": "y" }),
            "validation_failed",
        ),
        (
            json!({ "category": "nonsense", "subject": "x", "body": "y" }),
            "invalid_body",
        ),
        (json!({ "subject": "x", "body": "y" }), "invalid_body"),
    ] {
        let r = t
            .post("/api/v1/me/support-requests", Some(&ada), bad.clone())
            .await;
        r.assert(422, Some(code));
        if code == "validation_failed" {
            let field = if bad["body"] == " " {
                "body"
            } else {
                "subject"
            };
            assert!(r.body["error"]["fields"][field].is_string(), "{}", r.body);
        }
    }
    // None of those were stored.
    let mine = t.get("/api/v1/me/support-requests", Some(&ada)).await;
    assert_eq!(mine.body["support_requests"].as_array().unwrap().len(), 1);
    t.post("/api/v1/me/support-requests", None, json!({}))
        .await
        .assert(401, Some("unauthenticated"));
}
