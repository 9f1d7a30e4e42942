//! Sign-up, email confirmation, password reset, username reminder and
//! password change (A1, A8, P7), on SQLite and PostgreSQL.

use crate::common::{unfold, Db, TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_databases!(
    sign_up_validates_every_field,
    sign_up_without_terms_needs_no_acceptance,
    sign_up_rejects_weak_passwords_with_a_reason,
    usernames_and_emails_are_unique_regardless_of_case,
    confirmation_link_is_single_use_and_expires_after_a_day,
    confirmation_can_be_resent,
    password_reset_by_mail_signs_out_everywhere,
    recovery_answers_the_same_for_unknown_addresses,
    reset_link_expires_after_an_hour,
    username_reminder_mails_the_username,
    change_password_needs_the_current_one_and_signs_out_others,
    a_reset_ends_every_session_and_api_key,
    a_password_change_ends_api_keys_and_mailed_links,
    an_email_change_voids_links_mailed_to_the_old_address,
    recovery_replies_before_it_writes,
    unconfirmed_accounts_cannot_create_api_keys,
    api_keys_may_expire,
    passwords_are_hashed_with_the_production_parameters,
    bad_bodies_get_json_errors,
);

/// Creates a personal API key and returns it.
async fn api_key(t: &TestApp, session: &str) -> String {
    let r = t
        .post(
            "/api/v1/me/api-keys",
            Some(session),
            json!({ "name": "laptop" }),
        )
        .await;
    r.assert(201, None);
    r.body["key"].as_str().unwrap().to_owned()
}

async fn with_key(t: &TestApp, key: &str) -> u16 {
    let r = t
        .client
        .get(t.url("/api/v1/me"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Someone signed up first with another person's address and made a key;
/// the real owner resets the password: the squatter's sessions and keys end.
async fn a_reset_ends_every_session_and_api_key(db: Db) {
    let t = TestApp::spawn(db).await;
    let session = t.new_user("ada").await;
    let kept = t.sign_in("ada", PASSWORD, true).await;
    let key = api_key(&t, &session).await;
    assert_eq!(with_key(&t, &key).await, 200);
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(200, None);
    for s in [&session, &kept] {
        t.get("/api/v1/me", Some(s))
            .await
            .assert(401, Some("unauthenticated"));
    }
    assert_eq!(with_key(&t, &key).await, 401);
    let fresh = t.sign_in("ada", "a brand new passphrase", false).await;
    let keys = t.get("/api/v1/me/api-keys", Some(&fresh)).await;
    assert_eq!(keys.body["api_keys"], json!([]));
    let mail = unfold(&t.mail_to("ada@example.com", "password was changed").await);
    assert!(mail.contains("Every session was signed out"), "{mail}");
    assert!(mail.contains("API key was revoked"), "{mail}");
}

async fn a_password_change_ends_api_keys_and_mailed_links(db: Db) {
    let t = TestApp::spawn(db).await;
    let me = t.new_user("ada").await;
    let key = api_key(&t, &me).await;
    // A reset and an email change wait in the mailboxes.
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    t.post(
        "/api/v1/me/email",
        Some(&me),
        json!({ "new_email": "ada@elsewhere.example", "password": PASSWORD }),
    )
    .await
    .assert(202, None);
    let change = t
        .link_token("ada@elsewhere.example", "/confirm-email")
        .await;
    t.post(
        "/api/v1/me/password",
        Some(&me),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    // This session stays; the key and both links do not.
    t.get("/api/v1/me", Some(&me)).await.assert(200, None);
    assert_eq!(with_key(&t, &key).await, 401);
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "yet another passphrase" }),
    )
    .await
    .assert(400, Some("invalid_token"));
    t.post("/api/v1/me/email/confirm", None, json!({ "token": change }))
        .await
        .assert(400, Some("invalid_token"));
    let me_now = t.get("/api/v1/me", Some(&me)).await;
    assert_eq!(me_now.body["user"]["email"], "ada@example.com");
    let mail = unfold(&t.mail_to("ada@example.com", "password was changed").await);
    assert!(
        mail.contains("Your other sessions were signed out"),
        "{mail}"
    );
}

async fn an_email_change_voids_links_mailed_to_the_old_address(db: Db) {
    let t = TestApp::spawn(db).await;
    let me = t.new_user("ada").await;
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("ada@example.com", "/reset-password").await;
    t.post(
        "/api/v1/me/email",
        Some(&me),
        json!({ "new_email": "ada@elsewhere.example", "password": PASSWORD }),
    )
    .await
    .assert(202, None);
    let change = t
        .link_token("ada@elsewhere.example", "/confirm-email")
        .await;
    t.post("/api/v1/me/email/confirm", None, json!({ "token": change }))
        .await
        .assert(200, None);
    // The old mailbox's reset link no longer speaks for the account.
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(400, Some("invalid_token"));
    t.sign_in("ada", PASSWORD, false).await;
}

/// The reply to a recovery request does not wait for what it writes, so it
/// takes as long for an address with an account as for one without: with
/// the database's writer held elsewhere, the reply still comes at once.
async fn recovery_replies_before_it_writes(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.rate_limits = false).await;
    t.new_user("ada").await;
    let held = t.app.store.begin().await.unwrap();
    let held = if db == Db::Postgres {
        // PostgreSQL writers do not queue behind one another; lock the
        // tables the reset writes instead.
        let mut held = held;
        sqlx::query("LOCK TABLE user_tokens IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *held)
            .await
            .unwrap();
        held
    } else {
        held
    };
    for path in ["/api/v1/password-resets", "/api/v1/username-reminders"] {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            t.post(path, None, json!({ "email": "ada@example.com" })),
        )
        .await
        .expect("the reply does not wait for the database's writer");
        reply.assert(202, None);
    }
    held.rollback().await.unwrap();
    // The work happens after the reply.
    t.link_token("ada@example.com", "/reset-password").await;
    t.mail_to("ada@example.com", "Your Postroom username").await;
}

/// Without terms of service configured there is nothing to accept: the
/// API signs up without `accept_terms` (with terms, it is required, above).
async fn sign_up_without_terms_needs_no_acceptance(db: Db) {
    let t = TestApp::spawn(db).await;
    t.post(
        "/api/v1/accounts",
        None,
        json!({ "email": "ada@example.com", "username": "ada", "password": PASSWORD }),
    )
    .await
    .assert(201, None);
}

async fn sign_up_validates_every_field(db: Db) {
    let t = TestApp::spawn_with(db, |c| {
        c.terms_url = Some("https://example.com/terms".into())
    })
    .await;
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
    let token = crate::common::token_in(&mail, "/verify-email").unwrap();
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
    let mail = unfold(
        &t.mail_to("ada-lovelace@example.com", "Your Postroom username")
            .await,
    );
    // The username itself, on its own line of the text, not the address
    // in the headers.
    assert!(mail.lines().any(|l| l.trim() == "ada-lovelace"), "{mail}");
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

async fn unconfirmed_accounts_cannot_create_api_keys(db: Db) {
    let t = TestApp::spawn(db).await;
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    let session = t.sign_in("ada", PASSWORD, false).await;
    t.post(
        "/api/v1/me/api-keys",
        Some(&session),
        json!({ "name": "laptop" }),
    )
    .await
    .assert(403, Some("email_not_verified"));
    let keys = t.get("/api/v1/me/api-keys", Some(&session)).await;
    assert_eq!(keys.body["api_keys"], json!([]));
    // Confirmed, the same request works.
    let token = t.link_token("ada@example.com", "/verify-email").await;
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(200, None);
    api_key(&t, &session).await;
}

async fn api_keys_may_expire(db: Db) {
    const DAY: i64 = 24 * 3_600_000;
    let t = TestApp::spawn(db).await;
    let session = t.new_user("ada").await;
    for days in [json!(0), json!(366), json!(-1), json!("soon")] {
        let r = t
            .post(
                "/api/v1/me/api-keys",
                Some(&session),
                json!({ "name": "ci", "expires_in_days": days }),
            )
            .await;
        assert!(r.status == 422, "{days}: {}", r.body);
    }
    let r = t
        .post(
            "/api/v1/me/api-keys",
            Some(&session),
            json!({ "name": "ci", "expires_in_days": 30 }),
        )
        .await;
    r.assert(201, None);
    let expiring = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(r.body["api_key"]["expires_at"], "2026-01-31T00:00:00Z");
    assert_eq!(r.body["api_key"]["expired"], false);
    let forever = api_key(&t, &session).await;
    t.clock.advance(30 * DAY - 1);
    assert_eq!(with_key(&t, &expiring).await, 200);
    t.clock.advance(1);
    assert_eq!(with_key(&t, &expiring).await, 401);
    assert_eq!(with_key(&t, &forever).await, 200);
    // The list shows which key expired, so it can be replaced.
    let session = t.sign_in("ada", PASSWORD, false).await;
    let keys = t.get("/api/v1/me/api-keys", Some(&session)).await;
    let keys = keys.body["api_keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    let by_expiry: Vec<(Value, Value)> = keys
        .iter()
        .map(|k| (k["expires_at"].clone(), k["expired"].clone()))
        .collect();
    assert!(by_expiry.contains(&(json!("2026-01-31T00:00:00Z"), json!(true))));
    assert!(by_expiry.contains(&(Value::Null, json!(false))));
}

/// Every other test hashes with tiny parameters to stay fast; this one runs
/// the server as `postroom serve` does and reads the stored hash.
async fn passwords_are_hashed_with_the_production_parameters(db: Db) {
    let t = TestApp::spawn_with_production_hashing(db).await;
    t.new_user("ada").await;
    let mut c = t.app.store.conn().await.unwrap();
    let user = postroom_server::store::users::by_username_key(&mut c, "ada")
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        user.password_hash
    );
    let defaults = postroom_server::Config::defaults();
    assert_eq!(
        (defaults.argon2_memory_kib, defaults.argon2_iterations),
        (19_456, 2)
    );
    t.sign_in("ada", PASSWORD, false).await;
}
