//! Support requests (P10): stored, mailed to the operator's support
//! address (when one is configured), and listed for the person who sent them.

use postroom_core::api::{self, SupportCategory};
use serde_json::json;

use super::accounts::load_user;
use super::actor::Actor;
use super::limits::{self, Check, Rule};
use crate::clock::{rfc3339, HOUR};
use crate::error::{FieldErrors, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, support::SupportRow};

pub const MAX_SUBJECT: usize = 150;
pub const MAX_BODY: usize = 10_000;
const PER_ACCOUNT: Rule = Rule {
    name: "support:account",
    limit: 10,
    window: HOUR,
};

fn view(r: SupportRow) -> api::SupportRequest {
    api::SupportRequest {
        id: r.id,
        category: SupportCategory::parse(&r.category).unwrap_or(SupportCategory::Other),
        subject: r.subject,
        body: r.body,
        status: r.status,
        created_at: rfc3339(r.created_at),
        answer: r.answer,
        answered_at: r.answered_at.map(rfc3339),
    }
}

pub async fn submit(
    app: &App,
    actor: &Actor,
    req: &api::CreateSupportRequest,
) -> Result<api::SupportRequest> {
    let mut errors = FieldErrors::default();
    let subject = req.subject.trim();
    let body = req.body.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT {
        errors.add(
            "subject",
            format!("subject must be 1 to {MAX_SUBJECT} characters"),
        );
    } else if subject.chars().any(char::is_control) {
        // It heads a mail to the operator: one line.
        errors.add(
            "subject",
            "subject must be one line, without control characters",
        );
    }
    if body.is_empty() || body.chars().count() > MAX_BODY {
        errors.add(
            "body",
            format!("the message must be 1 to {MAX_BODY} characters"),
        );
    }
    errors.into_result()?;
    limits::limit(app, &[Check::new(PER_ACCOUNT, &actor.user_id)]).await?;
    let now = app.clock.now();
    let id = store::new_id();
    let mut tx = app.store.begin().await?;
    let user = load_user(&mut tx, &actor.user_id).await?;
    let row = store::support::insert(
        &mut tx,
        &id,
        &user.id,
        req.category.as_str(),
        subject,
        body,
        now,
    )
    .await?;
    if let Some(to) = &app.settings.support_email {
        let ctx = json!({
            "id": id, "username": user.username, "email": user.email,
            "category": req.category.label(), "subject": subject, "body": body,
        });
        app.mailer
            .queue(&mut tx, &to.to_string(), Template::SupportRequest, ctx, now)
            .await?;
    } else {
        tracing::info!(request = %id, "support request stored; no support_email is configured to forward it to");
    }
    tx.commit().await?;
    Ok(view(row))
}

/// The caller's newest support requests (at most 100).
pub async fn list(app: &App, actor: &Actor) -> Result<api::SupportRequestList> {
    list_at_most(app, actor, 100).await
}

/// The caller's newest `limit` support requests, newest first.
pub async fn list_at_most(app: &App, actor: &Actor, limit: i64) -> Result<api::SupportRequestList> {
    let rows =
        store::support::list_own(&mut *app.store.conn().await?, &actor.user_id, limit).await?;
    Ok(api::SupportRequestList {
        support_requests: rows.into_iter().map(view).collect(),
    })
}
