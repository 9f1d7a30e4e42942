//! Security notices (P5): each is recorded as an event in the person's
//! scope, then shown in-app and mailed according to their preferences.
//! Everything happens in the caller's transaction.

use postroom_core::{AccountEvent, NotificationPrefs, Topic};
use serde_json::json;

use crate::clock::rfc3339;
use crate::error::Result;
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, users::UserRow, Tx};

fn topic(_event: &AccountEvent) -> Topic {
    Topic::Security
}

/// The in-app notification's text.
fn message(event: &AccountEvent) -> String {
    match event {
        AccountEvent::NewSignIn { device, ip } => format!("New sign-in from {device} ({ip})"),
        AccountEvent::PasswordChanged { .. } => {
            "Your password was changed; your API keys were revoked".to_owned()
        }
        AccountEvent::EmailChanged { new_email, .. } => {
            format!("Your email address was changed to {new_email}")
        }
        AccountEvent::TwoFactorEnabled {} => {
            "Two-step verification was turned on; your other sessions were signed out".to_owned()
        }
        AccountEvent::TwoFactorDisabled {} => "Two-step verification was turned off".to_owned(),
        AccountEvent::RecoveryCodeUsed { left } => {
            format!("A recovery code was used to sign in; {left} left")
        }
        AccountEvent::PasskeyAdded { name } => format!("A passkey was added: {name}"),
        AccountEvent::PasskeyRemoved { name } => format!("A passkey was removed: {name}"),
    }
}

fn template(event: &AccountEvent) -> Template {
    match event {
        AccountEvent::NewSignIn { .. } => Template::NewSignIn,
        AccountEvent::PasswordChanged { .. } => Template::PasswordChanged,
        AccountEvent::EmailChanged { .. } => Template::EmailChanged,
        AccountEvent::TwoFactorEnabled {}
        | AccountEvent::TwoFactorDisabled {}
        | AccountEvent::RecoveryCodeUsed { .. } => Template::TwoFactorChanged,
        AccountEvent::PasskeyAdded { .. } => Template::PasskeyAdded,
        AccountEvent::PasskeyRemoved { .. } => Template::PasskeyRemoved,
    }
}

pub fn prefs_of(user: &UserRow) -> NotificationPrefs {
    serde_json::from_str(&user.notification_prefs).unwrap_or_default()
}

/// Records `event` in `user`'s scope and delivers it where their
/// preferences say. `mail_to` overrides the recipient (an email change
/// notifies the old address).
pub async fn send(
    app: &App,
    c: &mut Tx,
    user: &UserRow,
    event: AccountEvent,
    mail_to: Option<&str>,
) -> Result<()> {
    let now = app.clock.now();
    let prefs = prefs_of(user);
    let row =
        store::events::record(c, &format!("user:{}", user.id), Some(&user.id), &event, now).await?;
    if prefs.in_app.wants(topic(&event)) {
        store::events::insert_notification(c, &user.id, &row.id, &row.kind, &message(&event), now)
            .await?;
    }
    if prefs.email.wants(topic(&event)) {
        let mut ctx: serde_json::Value = serde_json::from_str(&row.data).unwrap_or(json!({}));
        ctx["kind"] = json!(row.kind);
        ctx["username"] = json!(user.username);
        ctx["when"] = json!(rfc3339(now));
        ctx["settings_link"] = json!(app.settings.link("/settings/account"));
        ctx["security_link"] = json!(app.settings.link("/settings/security"));
        ctx["recovery_link"] = json!(app.settings.link("/trouble"));
        app.mailer
            .queue(
                c,
                mail_to.unwrap_or(&user.email),
                template(&event),
                ctx,
                now,
            )
            .await?;
    }
    Ok(())
}
