//! Outgoing mail. Domain code calls [`Mailer::queue`] inside its transaction;
//! the [`worker`] sends queued mails in the background, over SMTP when
//! configured, otherwise into `<data_dir>/outbox/`. Each mail has a text and
//! an HTML part, rendered from the templates compiled into the binary.

pub mod worker;

use std::sync::Arc;

use anyhow::Context;
use minijinja::Environment;
use serde::Serialize;

use crate::clock::Millis;
use crate::store::{self, Tx};

/// The mails Postroom sends. Each has `<name>.txt` (first line: the subject,
/// then the text) and `<name>.html` in `templates/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    VerifyEmail,
    ResetPassword,
    UsernameReminder,
    ConfirmNewEmail,
    EmailChangeRequested,
    EmailChanged,
    PasswordChanged,
    NewSignIn,
    PasskeyAdded,
    PasskeyRemoved,
    TeamInvite,
    TeamRemoved,
    TeamDeleted,
    SupportRequest,
    AccountDeleted,
    AccountLocked,
    AccountCreated,
    SupportAnswered,
    TwoFactorChanged,
    BillingNotice,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::VerifyEmail => "verify_email",
            Template::ResetPassword => "reset_password",
            Template::UsernameReminder => "username_reminder",
            Template::ConfirmNewEmail => "confirm_new_email",
            Template::EmailChangeRequested => "email_change_requested",
            Template::EmailChanged => "email_changed",
            Template::PasswordChanged => "password_changed",
            Template::NewSignIn => "new_sign_in",
            Template::PasskeyAdded => "passkey_added",
            Template::PasskeyRemoved => "passkey_removed",
            Template::TeamInvite => "team_invite",
            Template::TeamRemoved => "team_removed",
            Template::TeamDeleted => "team_deleted",
            Template::SupportRequest => "support_request",
            Template::AccountDeleted => "account_deleted",
            Template::AccountLocked => "account_locked",
            Template::AccountCreated => "account_created",
            Template::SupportAnswered => "support_answered",
            Template::TwoFactorChanged => "two_factor_changed",
            Template::BillingNotice => "billing_notice",
        }
    }
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(
            (concat!($name, ".txt"), include_str!(concat!("templates/", $name, ".txt"))),
            (concat!($name, ".html"), include_str!(concat!("templates/", $name, ".html"))),
        )*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "verify_email",
    "reset_password",
    "username_reminder",
    "confirm_new_email",
    "email_change_requested",
    "email_changed",
    "password_changed",
    "new_sign_in",
    "passkey_added",
    "passkey_removed",
    "team_invite",
    "team_removed",
    "team_deleted",
    "support_request",
    "account_deleted",
    "account_created",
    "support_answered",
    "account_locked",
    "two_factor_changed",
    "billing_notice",
);

#[derive(Clone)]
pub struct Mailer {
    env: Arc<Environment<'static>>,
}

/// A rendered mail.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mailer {
    pub fn new() -> Mailer {
        let mut env = Environment::new();
        // Times reach the templates as RFC 3339; mails say them in words.
        env.add_filter("date", |iso: String| {
            crate::clock::date_in_words(&iso, false)
        });
        env.add_filter("datetime", |iso: String| {
            crate::clock::date_in_words(&iso, true)
        });
        env.add_template("layout.html", include_str!("templates/layout.html"))
            .expect("layout template parses");
        for (name, source) in TEMPLATES {
            match name.strip_suffix(".txt") {
                // The subject line is a template of its own, so that a value
                // with a line break in it cannot end the subject early and
                // put the rest above the mail's real headers or text.
                Some(mail) => {
                    let (subject, text) = source
                        .split_once('\n')
                        .expect("a mail template starts with its subject line");
                    env.add_template_owned(format!("{mail}.subject"), subject.trim_end())
                        .expect("mail subjects parse");
                    env.add_template(name, text).expect("mail templates parse");
                }
                None => env
                    .add_template(name, source)
                    .expect("mail templates parse"),
            }
        }
        Mailer { env: Arc::new(env) }
    }

    pub fn render(&self, template: Template, ctx: impl Serialize) -> anyhow::Result<Rendered> {
        let ctx = minijinja::Value::from_serialize(&ctx);
        let render = |suffix: &str| {
            self.env
                .get_template(&format!("{}.{suffix}", template.name()))?
                .render(&ctx)
                .with_context(|| format!("rendering {}.{suffix}", template.name()))
        };
        Ok(Rendered {
            subject: one_line(&render("subject")?),
            text: render("txt")?.trim_start().to_owned(),
            html: render("html")?,
        })
    }

    /// Renders a mail and queues it in the caller's transaction; its commit
    /// wakes the mail worker.
    pub async fn queue(
        &self,
        c: &mut Tx,
        to: &str,
        template: Template,
        ctx: impl Serialize,
        now: Millis,
    ) -> crate::error::Result<()> {
        let m = self.render(template, ctx)?;
        store::mail::enqueue(c, to, &m.subject, &m.text, &m.html, now).await?;
        Ok(())
    }
}

/// A subject as one line: each run of control characters, line breaks and
/// spaces becomes one space.
fn one_line(subject: &str) -> String {
    let mut line = String::with_capacity(subject.len());
    for c in subject.chars() {
        let space = c.is_control() || c.is_whitespace();
        if !space {
            line.push(c);
        } else if !line.ends_with(' ') {
            line.push(' ');
        }
    }
    line.trim().to_owned()
}

impl Default for Mailer {
    fn default() -> Self {
        Mailer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_with_a_subject_and_escapes_html() {
        let m = Mailer::new();
        let ctx = serde_json::json!({
            "username": "<b>ada</b>", "link": "http://x/?token=abc", "new_email": "a@b.c",
            "old_email": "o@b.c", "device": "Firefox on Linux", "ip": "127.0.0.1", "when": "now",
            "settings_link": "http://x/settings", "admin": "bob", "team_name": "Acme",
        });
        for t in [
            Template::VerifyEmail,
            Template::ResetPassword,
            Template::UsernameReminder,
            Template::ConfirmNewEmail,
            Template::EmailChangeRequested,
            Template::EmailChanged,
            Template::PasswordChanged,
            Template::NewSignIn,
            Template::PasskeyAdded,
            Template::PasskeyRemoved,
            Template::TeamInvite,
            Template::TeamRemoved,
            Template::TeamDeleted,
            Template::SupportRequest,
            Template::AccountLocked,
        ] {
            let r = m.render(t, &ctx).unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{t:?}");
            assert!(
                r.html.contains("&lt;b&gt;ada") && !r.html.contains("<b>ada"),
                "{t:?} escapes"
            );
        }
    }

    /// Dates in mails are words, not RFC 3339.
    #[test]
    fn dates_are_in_words() {
        let m = Mailer::new();
        let ctx = serde_json::json!({
            "username": "ada", "team_name": "Acme", "email": "bob@example.com", "link": "l",
            "expires_at": "2026-12-09T10:00:00.000Z", "when": "2026-12-02T08:40:00Z",
            "device": "Firefox on Linux", "ip": "127.0.0.1", "settings_link": "s",
        });
        let r = m.render(Template::TeamInvite, &ctx).unwrap();
        assert!(r.text.contains("expires on 9 December 2026."), "{}", r.text);
        assert!(r.html.contains("expires on 9 December 2026."), "{}", r.html);
        let r = m.render(Template::NewSignIn, &ctx).unwrap();
        assert!(
            r.text.contains("on 2 December 2026 at 08:40 UTC"),
            "{}",
            r.text
        );
        let r = m.render(Template::AccountDeleted, &ctx).unwrap();
        assert!(r.text.contains("on 2 December 2026,"), "{}", r.text);
    }

    /// A value with line breaks in the subject stays in the subject.
    #[test]
    fn subjects_are_one_line_whatever_their_values() {
        let m = Mailer::new();
        let ctx = serde_json::json!({
            "id": "r1", "username": "ada", "email": "ada@example.com", "category": "Bug",
            "subject": "Help\r\nBcc: x@evil.example\n\nSpoofed text\u{2028}\t here",
            "body": "It broke.",
        });
        let r = m.render(Template::SupportRequest, &ctx).unwrap();
        assert_eq!(
            r.subject,
            "Support request: Help Bcc: x@evil.example Spoofed text here"
        );
        assert!(
            r.text
                .starts_with("A support request was sent from Postroom.\n"),
            "{}",
            r.text
        );
        assert!(r.text.trim_end().ends_with("It broke."), "{}", r.text);
        assert!(!r.text.contains("Bcc:"), "{}", r.text);

        let ctx =
            serde_json::json!({ "username": "ada\nBcc: x", "team_name": "Acme\r\n", "link": "l" });
        let r = m.render(Template::TeamInvite, &ctx).unwrap();
        assert_eq!(r.subject, "ada Bcc: x invited you to join Acme on Postroom");
        assert!(r.text.starts_with("Hello,"), "{}", r.text);

        let ctx = serde_json::json!({ "username": "ada", "admin": "bob\r\n", "team_name": "Acme\nBcc: x" });
        let r = m.render(Template::TeamRemoved, &ctx).unwrap();
        assert_eq!(
            r.subject,
            "You were removed from the team Acme Bcc: x on Postroom"
        );
        assert!(r.text.starts_with("Hi ada,"), "{}", r.text);
        assert!(
            r.text.contains("your access to its data ended"),
            "{}",
            r.text
        );
    }
}
