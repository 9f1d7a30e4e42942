//! Security notices (P5): each is recorded as an event in the person's
//! scope, then shown in-app and mailed according to their preferences.
//! Everything happens in the caller's transaction.

use postroom_core::{NotificationPrefs, Topic};
use serde_json::json;

use crate::clock::rfc3339;
use crate::error::Result;
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, users::UserRow, Tx};

/// Something that happened to an account that its owner should hear about.
pub enum Notice<'a> {
    NewSignIn {
        device: &'a str,
        ip: &'a str,
    },
    /// The password was changed (or reset, which signs out every session
    /// rather than the others); every API key was revoked.
    PasswordChanged {
        by_reset: bool,
        keys_revoked: u64,
    },
    EmailChanged {
        old_email: &'a str,
        new_email: &'a str,
    },
}

impl Notice<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Notice::NewSignIn { .. } => "new_sign_in",
            Notice::PasswordChanged { .. } => "password_changed",
            Notice::EmailChanged { .. } => "email_changed",
        }
    }

    fn topic(&self) -> Topic {
        Topic::Security
    }

    fn message(&self) -> String {
        match self {
            Notice::NewSignIn { device, ip } => format!("New sign-in from {device} ({ip})"),
            Notice::PasswordChanged { .. } => {
                "Your password was changed; your API keys were revoked".to_owned()
            }
            Notice::EmailChanged { new_email, .. } => {
                format!("Your email address was changed to {new_email}")
            }
        }
    }
}

pub fn prefs_of(user: &UserRow) -> NotificationPrefs {
    serde_json::from_str(&user.notification_prefs).unwrap_or_default()
}

/// Records `notice` for `user` and delivers it where their preferences say.
/// `mail_to` overrides the recipient (an email change notifies the old address).
pub async fn send(
    app: &App,
    c: &mut Tx,
    user: &UserRow,
    notice: Notice<'_>,
    mail_to: Option<&str>,
) -> Result<()> {
    let now = app.clock.now();
    let prefs = prefs_of(user);
    let data = match &notice {
        Notice::NewSignIn { device, ip } => json!({ "device": device, "ip": ip }),
        Notice::EmailChanged {
            old_email,
            new_email,
        } => json!({ "old_email": old_email, "new_email": new_email }),
        Notice::PasswordChanged {
            by_reset,
            keys_revoked,
        } => json!({ "by_reset": by_reset, "keys_revoked": keys_revoked }),
    };
    let event = store::events::append(
        c,
        &format!("user:{}", user.id),
        Some(&user.id),
        notice.kind(),
        &data.to_string(),
        now,
    )
    .await?;
    if prefs.in_app.wants(notice.topic()) {
        store::events::insert_notification(
            c,
            &user.id,
            &event.id,
            notice.kind(),
            &notice.message(),
            now,
        )
        .await?;
    }
    if prefs.email.wants(notice.topic()) {
        let template = match notice {
            Notice::NewSignIn { .. } => Template::NewSignIn,
            Notice::PasswordChanged { .. } => Template::PasswordChanged,
            Notice::EmailChanged { .. } => Template::EmailChanged,
        };
        let mut ctx = data;
        ctx["username"] = json!(user.username);
        ctx["when"] = json!(rfc3339(now));
        ctx["settings_link"] = json!(app.settings.link("/settings/account"));
        ctx["recovery_link"] = json!(app.settings.link("/trouble"));
        app.mailer
            .queue(c, mail_to.unwrap_or(&user.email), template, ctx, now)
            .await?;
    }
    Ok(())
}
