//! Sign-up, email confirmation, password reset, username reminder and
//! password change (A1, A8, P7), on SQLite and PostgreSQL.

mod common;

use common::{Db, TestApp, PASSWORD};
use serde_json::json;

on_both_databases!(
    sign_up_validates_every_field,
    sign_up_rejects_weak_passwords_with_a_reason,
    usernames_and_emails_are_unique_regardless_of_case,
    confirmation_link_is_single_use_and_expires_after_a_day,
    confirmation_can_be_resent,
    password_reset_by_mail_signs_out_everywhere,
    recovery_answers_the_same_for_unknown_addresses,
    reset_link_expires_after_an_hour,
    username_reminder_mails_the_username,
    change_password_needs_the_current_one_and_signs_out_others,
    bad_bodies_get_json_errors,
);

async fn sign_up_validates_every_field(db: Db) {
    let t = TestApp::spawn(db).await;
    let r = t
        .post("/api/v1/accounts", None, json!({ "email": "nope", "username": "x!", "password": "short", "accept_terms": false }))
        .await;
    r.assert(422, Some("validation_failed"));
    for field in ["email", "username", "password", "accept_terms"] {
        assert!(
            r.body["error"]["fields"][field].is_string(),
            "{field} is reported: {}",
            r.body
        );
    }
    for (username, why) in [
        ("ab", "short"),
        (&*"a".repeat(40), "long"),
        ("-ada", "hyphen"),
        ("ada_l", "underscore"),
    ] {
        t.post("/api/v1/accounts", None, json!({ "email": "a@example.com", "username": username, "password": PASSWORD, "accept_terms": true }))
            .await
            .assert(422, Some("validation_failed"));
        let _ = why;
    }
    t.post("/api/v1/accounts", None, json!({ "email": "a@example.com", "username": "ada", "password": "x".repeat(257), "accept_terms": true }))
        .await
        .assert(422, Some("validation_failed"));
    // A 128-character passphrase is accepted.
    let long: String = "tangerine zeppelin ".repeat(7).chars().take(128).collect();
    let r = t
        .post("/api/v1/accounts", None, json!({ "email": "Ada@Example.com", "username": "Ada-L", "password": long, "accept_terms": true }))
        .await;
    r.assert(201, None);
    assert_eq!(r.body["user"]["username"], "Ada-L");
    assert_eq!(r.body["user"]["email"], "Ada@example.com");
    assert_eq!(r.body["user"]["email_verified"], false);
}

async fn sign_up_rejects_weak_passwords_with_a_reason(db: Db) {
    let t = TestApp::spawn(db).await;
    for weak in ["password", "12345678", "qwertyuiop", "grace-hopper1"] {
        let r = t
            .post("/api/v1/accounts", None, json!({ "email": "grace@example.com", "username": "grace-hopper", "password": weak, "accept_terms": true }))
            .await;
        r.assert(422, Some("weak_password"));
        let reason = r.body["error"]["fields"]["password"].as_str().unwrap();
        assert!(reason.contains("too easy to guess"), "{reason}");
    }
}

async fn usernames_and_emails_are_unique_regardless_of_case(db: Db) {
    let t = TestApp::spawn(db).await;
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    t.sign_up("other@example.com", "ADA")
        .await
        .assert(409, Some("username_taken"));
    t.sign_up("ADA@EXAMPLE.COM", "someone")
        .await
        .assert(409, Some("email_taken"));
}

async fn confirmation_link_is_single_use_and_expires_after_a_day(db: Db) {
    let t = TestApp::spawn(db).await;
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    let mail = t.mail_to("ada@example.com", "Confirm your email").await;
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "the mail has both parts"
    );
    let token = common::token_in(&mail, "/verify-email").unwrap();
    let r = t
        .post(
            "/api/v1/accounts/verify-email",
            None,
            json!({ "token": token }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["email_verified"], true);
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(400, Some("invalid_token"));
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": "made-up" }),
    )
    .await
    .assert(400, Some("invalid_token"));

    t.sign_up("bob@example.com", "bob").await.assert(201, None);
    let token = t.link_token("bob@example.com", "/verify-email").await;
    t.clock.advance(24 * 3_600_000 + 1);
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(400, Some("invalid_token"));
}

async fn confirmation_can_be_resent(db: Db) {
    let t = TestApp::spawn(db).await;
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    let first = t.link_token("ada@example.com", "/verify-email").await;
    t.post(
        "/api/v1/accounts/verify-email/resend",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let second = t.link_token("ada@example.com", "/verify-email").await;
    assert_ne!(first, second);
    // The new link replaces the old one.
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": first }),
    )
    .await
    .assert(400, Some("invalid_token"));
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": second }),
    )
    .await
    .assert(200, None);
    // Rate-limited per address: three an hour-quarter.
    for _ in 0..2 {
        t.post(
            "/api/v1/accounts/verify-email/resend",
            None,
            json!({ "email": "ada@example.com" }),
        )
        .await
        .assert(202, None);
    }
    let r = t
        .post(
            "/api/v1/accounts/verify-email/resend",
            None,
            json!({ "email": "ada@example.com" }),
        )
        .await;
    r.assert(429, Some("rate_limited"));
    assert!(r.headers.get("retry-after").is_some());
}

async fn password_reset_by_mail_signs_out_everywhere(db: Db) {
    let t = TestApp::spawn(db).await;
    let token = t.new_user("ada").await;
    let other = t.sign_in("ada@example.com", PASSWORD, true).await;
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    // The new password is checked before the link is used up.
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "password1" }),
    )
    .await
    .assert(422, Some("weak_password"));
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(200, None);
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "another new passphrase" }),
    )
    .await
    .assert(400, Some("invalid_token"));
    t.get("/api/v1/me", Some(&token))
        .await
        .assert(401, Some("unauthenticated"));
    t.get("/api/v1/me", Some(&other))
        .await
        .assert(401, Some("unauthenticated"));
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    t.sign_in("ada", "a brand new passphrase", false).await;
    t.mail_to("ada@example.com", "password was changed").await;
}

async fn recovery_answers_the_same_for_unknown_addresses(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    for path in [
        "/api/v1/password-resets",
        "/api/v1/username-reminders",
        "/api/v1/accounts/verify-email/resend",
    ] {
        let known = t
            .post(path, None, json!({ "email": "ada@example.com" }))
            .await;
        let unknown = t
            .post(path, None, json!({ "email": "nobody@example.com" }))
            .await;
        known.assert(202, None);
        unknown.assert(202, None);
        assert_eq!(known.body, unknown.body, "{path}");
        t.post(path, None, json!({ "email": "not an address" }))
            .await
            .assert(422, Some("validation_failed"));
    }
    t.mail_settled().await;
    assert!(t.mails_to("nobody@example.com").is_empty());
}

async fn reset_link_expires_after_an_hour(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada").await;
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    t.clock.advance(3_600_000 + 1);
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(400, Some("invalid_token"));
}

async fn username_reminder_mails_the_username(db: Db) {
    let t = TestApp::spawn(db).await;
    t.new_user("ada-lovelace").await;
    t.post(
        "/api/v1/username-reminders",
        None,
        json!({ "email": "ADA-LOVELACE@example.com" }),
    )
    .await
    .assert(202, None);
    let mail = t
        .mail_to("ada-lovelace@example.com", "Your Postroom username")
        .await;
    assert!(mail.contains("ada-lovelace"));
}

async fn change_password_needs_the_current_one_and_signs_out_others(db: Db) {
    let t = TestApp::spawn(db).await;
    let me = t.new_user("ada").await;
    let other = t.sign_in("ada", PASSWORD, false).await;
    t.post(
        "/api/v1/me/password",
        Some(&me),
        json!({ "current_password": "wrong", "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(422, Some("wrong_password"));
    t.post(
        "/api/v1/me/password",
        Some(&me),
        json!({ "current_password": PASSWORD, "new_password": "ada" }),
    )
    .await
    .assert(422, Some("weak_password"));
    t.post(
        "/api/v1/me/password",
        None,
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(401, Some("unauthenticated"));
    t.post(
        "/api/v1/me/password",
        Some(&me),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    t.get("/api/v1/me", Some(&me)).await.assert(200, None);
    t.get("/api/v1/me", Some(&other))
        .await
        .assert(401, Some("unauthenticated"));
    t.sign_in("ada", "a brand new passphrase", false).await;
}

async fn bad_bodies_get_json_errors(db: Db) {
    let t = TestApp::spawn(db).await;
    let r = t
        .client
        .post(t.url("/api/v1/accounts"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    TestApp::read(r).await.assert(400, Some("invalid_json"));
    let r = t
        .client
        .post(t.url("/api/v1/accounts"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    TestApp::read(r)
        .await
        .assert(415, Some("unsupported_media_type"));
    t.post("/api/v1/accounts", None, json!({ "email": 5 }))
        .await
        .assert(422, Some("invalid_body"));
    let big = "x".repeat(100 * 1024);
    t.post(
        "/api/v1/accounts",
        None,
        json!({ "email": big, "username": "a", "password": "b" }),
    )
    .await
    .assert(413, Some("payload_too_large"));
}
