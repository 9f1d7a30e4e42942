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

/// The mails Postroom sends. Each has `<name>.txt` (first line: the subject)
/// and `<name>.html` in `templates/`.
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
    TeamInvite,
    SupportRequest,
    AccountDeleted,
    AccountLocked,
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
            Template::TeamInvite => "team_invite",
            Template::SupportRequest => "support_request",
            Template::AccountDeleted => "account_deleted",
            Template::AccountLocked => "account_locked",
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
    "team_invite",
    "support_request",
    "account_deleted",
    "account_locked",
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
        env.add_template("layout.html", include_str!("templates/layout.html"))
            .expect("layout template parses");
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("mail templates parse");
        }
        Mailer { env: Arc::new(env) }
    }

    pub fn render(&self, template: Template, ctx: impl Serialize) -> anyhow::Result<Rendered> {
        let ctx = minijinja::Value::from_serialize(&ctx);
        let text = self
            .env
            .get_template(&format!("{}.txt", template.name()))?
            .render(&ctx)?;
        let (subject, body) = text
            .split_once('\n')
            .context("a mail template starts with its subject line")?;
        let html = self
            .env
            .get_template(&format!("{}.html", template.name()))?
            .render(&ctx)?;
        Ok(Rendered {
            subject: subject.trim().to_owned(),
            text: body.trim_start().to_owned(),
            html,
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
            "settings_link": "http://x/settings",
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
            Template::TeamInvite,
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
}
