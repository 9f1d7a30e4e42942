//! Mail through a real SMTP server: sign-up confirmation and password reset
//! delivered over SMTP and read back from the Maildir the server writes.
//!
//! CI starts `python3 -m aiosmtpd -n -l 127.0.0.1:2525 -c
//! aiosmtpd.handlers.Mailbox <maildir>` and sets `POSTROOM_TEST_SMTP_URL`
//! and `POSTROOM_TEST_MAILDIR`; without them these tests skip. The Maildir
//! may be shared between runs, so every run mails a fresh address.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Db, TestApp, PASSWORD};
use serde_json::json;

on_both_databases!(sign_up_and_password_reset_over_smtp);

/// The SMTP URL and the Maildir of the test SMTP server, when CI names one.
fn smtp_server() -> Option<(String, PathBuf)> {
    let url = std::env::var("POSTROOM_TEST_SMTP_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let maildir = std::env::var("POSTROOM_TEST_MAILDIR")
        .ok()
        .filter(|s| !s.is_empty())?;
    Some((url, PathBuf::from(maildir)))
}

/// Every message in the Maildir addressed `To: <to>`, oldest first.
fn maildir_messages_to(maildir: &Path, to: &str) -> Vec<String> {
    let header = format!("To: {to}");
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
        .filter(|m| {
            // Headers end at the first empty line.
            m.lines()
                .take_while(|l| !l.is_empty())
                .any(|l| l.trim_end().eq_ignore_ascii_case(&header))
        })
        .collect()
}

/// Waits up to 10 s for a mail to `to` with a link to `path`; returns the
/// mail and the link's token.
async fn wait_for_link(maildir: &Path, to: &str, path: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = maildir_messages_to(maildir, to)
            .into_iter()
            .rev()
            .find_map(|m| crate::common::token_in(&m, path).map(|token| (m, token)))
        {
            return found;
        }
        if Instant::now() > deadline {
            panic!(
                "no mail to {to} with a link to {path} reached {} within 10 s",
                maildir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_up_and_password_reset_over_smtp(db: Db) {
    let Some((url, maildir)) = smtp_server() else {
        crate::common::skip(
            "smtp",
            "set POSTROOM_TEST_SMTP_URL and POSTROOM_TEST_MAILDIR to run it against a real SMTP server",
        );
        return;
    };
    let t = TestApp::spawn_with(db, |config| {
        config.smtp_url = Some(url.clone().into());
    })
    .await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("smtp-{}", &run[..12]);
    let email = format!("{username}@example.com");

    // Sign up; the confirmation arrives over SMTP, not in the outbox.
    t.sign_up(&email, &username).await.assert(201, None);
    let (mail, token) = wait_for_link(&maildir, &email, "/verify-email").await;
    assert!(
        mail.lines()
            .any(|l| l.starts_with("Subject:") && l.contains("Confirm your email")),
        "the confirmation mail has its subject:\n{mail}"
    );
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "the mail has both parts:\n{mail}"
    );
    let sender = t.app.settings.mail_from.email.to_string();
    assert!(
        mail.lines()
            .any(|l| l.starts_with("From:") && l.contains(&sender)),
        "the mail comes from {sender}:\n{mail}"
    );
    assert!(
        t.mails_to(&email).is_empty(),
        "with smtp_url set nothing goes to the outbox"
    );
    let r = t
        .post(
            "/api/v1/accounts/verify-email",
            None,
            json!({ "token": token }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["email_verified"], true);

    // Sign in, then reset the password from the mailed link.
    let session = t.sign_in(&username, PASSWORD, false).await;
    t.get("/api/v1/me", Some(&session)).await.assert(200, None);
    t.post("/api/v1/password-resets", None, json!({ "email": email }))
        .await
        .assert(202, None);
    let (mail, reset) = wait_for_link(&maildir, &email, "/reset-password").await;
    assert!(
        mail.lines()
            .any(|l| l.starts_with("Subject:") && l.contains("Reset your Postroom password")),
        "the reset mail has its subject:\n{mail}"
    );
    let new_password = "a brand new passphrase over smtp";
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": new_password }),
    )
    .await
    .assert(200, None);

    // The reset signed out the old session; only the new password works.
    t.get("/api/v1/me", Some(&session))
        .await
        .assert(401, Some("unauthenticated"));
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": username, "password": PASSWORD }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    let fresh = t.sign_in(&email, new_password, false).await;
    let me = t.get("/api/v1/me", Some(&fresh)).await;
    me.assert(200, None);
    assert_eq!(
        me.body["user"]["username"],
        username.as_str(),
        "{}",
        me.body
    );

    // Every queued mail went out; none is left waiting for a retry.
    t.mail_settled().await;
    t.stop().await;
}
