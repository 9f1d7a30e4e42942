//! The audit log (T9): the team's event stream read back, newest first, each
//! entry worded as a sentence.

use postroom_core::api;
use postroom_core::{JoinedVia, Stored, TeamEvent};
use serde_json::Value;

use super::scope;
use crate::clock::rfc3339;
use crate::domain::actor::Actor;
use crate::domain::policy::{self, TeamAction};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store;

pub const AUDIT_PAGE: i64 = 50;

/// The team's events, newest first, a page at a time (`before`: the
/// previous page's `next_cursor`).
pub async fn audit_log(
    app: &App,
    actor: &Actor,
    slug: &str,
    before: Option<&str>,
    limit: Option<i64>,
) -> Result<api::AuditLogPage> {
    let before = match before.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::bad_request("invalid_cursor", "the cursor is not valid"))?,
        ),
        None => None,
    };
    let limit = limit.unwrap_or(AUDIT_PAGE).clamp(1, 200);
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ReadAuditLog).await?;
    let mut rows =
        store::teams::audit_page(&mut c, &scope(&access.team.id), before, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    Ok(api::AuditLogPage {
        entries: rows
            .into_iter()
            .map(|r| {
                let data: Value = serde_json::from_str(&r.data).unwrap_or(Value::Null);
                let event = TeamEvent::from_stored(&r.kind, &r.data);
                let actor = r.actor_id.map(|id| api::AuditActor {
                    id,
                    username: r.actor_username.clone(),
                });
                api::AuditEntry {
                    seq: r.seq,
                    summary: summary(event.as_ref(), &r.kind, actor.as_ref()),
                    kind: r.kind,
                    actor,
                    data,
                    created_at: rfc3339(r.created_at),
                }
            })
            .collect(),
        next_cursor,
    })
}

/// An event in one sentence; `kind` names an event this version cannot
/// read (recorded by a newer one).
fn summary(event: Option<&TeamEvent>, kind: &str, actor: Option<&api::AuditActor>) -> String {
    let who = match actor {
        None => "The operator".to_owned(),
        Some(a) => a
            .username
            .clone()
            .unwrap_or_else(|| "A deleted account".into()),
    };
    let role = |role: &str, support_only: bool| {
        if support_only {
            format!("{role} (support only)")
        } else {
            role.to_owned()
        }
    };
    let Some(event) = event else {
        return format!("{who}: {kind}");
    };
    match event {
        TeamEvent::Created { name, .. } => format!("{who} created the team {name}"),
        TeamEvent::Renamed { from, to } => format!("{who} renamed the team from {from} to {to}"),
        TeamEvent::Invited {
            email: Some(email), ..
        } => format!("{who} invited {email}"),
        TeamEvent::Invited { email: None, .. } => format!("{who} created an invite link"),
        TeamEvent::InviteCancelled {
            email: Some(email), ..
        } => {
            format!("{who} cancelled the invite for {email}")
        }
        TeamEvent::InviteCancelled { email: None, .. } => {
            format!("{who} cancelled an invite link")
        }
        TeamEvent::Joined {
            username,
            via: JoinedVia::JoinRequest,
            ..
        } => format!("{username} joined after their request was approved"),
        TeamEvent::Joined { username, .. } => format!("{username} joined by invite"),
        TeamEvent::Removed {
            username,
            left: true,
            ..
        } => format!("{username} left the team"),
        TeamEvent::Removed { username, .. } => format!("{who} removed {username}"),
        TeamEvent::RoleChanged {
            username,
            from,
            to,
            from_support_only,
            support_only,
            ..
        } => format!(
            "{who} changed the role of {username} from {} to {}",
            role(from, *from_support_only),
            role(to, *support_only),
        ),
        TeamEvent::DiscoveryChanged { enabled: true, .. } => format!("{who} turned discovery on"),
        TeamEvent::DiscoveryChanged {
            reason: Some(_), ..
        } => "Discovery turned off: no verified domain is left".to_owned(),
        TeamEvent::DiscoveryChanged { .. } => format!("{who} turned discovery off"),
        TeamEvent::DomainAdded { domain, .. } => format!("{who} added the domain {domain}"),
        TeamEvent::DomainVerified { domain, method } if method == "operator" => {
            format!("The operator verified the domain {domain}")
        }
        TeamEvent::DomainVerified { domain, .. } => {
            format!("{who} verified the domain {domain} by DNS")
        }
        TeamEvent::DomainRemoved { domain } => format!("{who} removed the domain {domain}"),
        TeamEvent::SsoConfigured { issuer, .. } => {
            format!("{who} set up single sign-on with {issuer}")
        }
        TeamEvent::SsoTested { issuer } => {
            format!("{who} tested single sign-on with {issuer}")
        }
        TeamEvent::SsoEnforced { enforced: true } => {
            format!("{who} made single sign-on required for the team's domains")
        }
        TeamEvent::SsoEnforced { enforced: false } => {
            format!("{who} stopped requiring single sign-on")
        }
        TeamEvent::SsoRemoved { issuer } => {
            format!("{who} removed single sign-on with {issuer}")
        }
        TeamEvent::PlanSet { from, to, seats } => format!(
            "The operator moved the team from {} to {} with {seats} seat{}",
            super::plans::by_id(from).name,
            super::plans::by_id(to).name,
            if *seats == 1 { "" } else { "s" }
        ),
        TeamEvent::JoinRequested { username, .. } => format!("{username} asked to join"),
        e @ (TeamEvent::BillingTrialStarted { .. }
        | TeamEvent::BillingSubscriptionChanged { .. }
        | TeamEvent::BillingRenewed { .. }
        | TeamEvent::BillingCancelled { .. }
        | TeamEvent::BillingResumed {}
        | TeamEvent::BillingPlanEnded { .. }
        | TeamEvent::BillingPaymentSucceeded { .. }
        | TeamEvent::BillingPaymentFailed { .. }
        | TeamEvent::BillingToppedUp { .. }
        | TeamEvent::BillingCardAdded { .. }
        | TeamEvent::BillingCardRemoved { .. }
        | TeamEvent::BillingDefaultCardSet { .. }
        | TeamEvent::BillingDetailsChanged {}) => {
            crate::domain::billing::describe(e, actor.map(|_| who.as_str()))
        }
        TeamEvent::JoinApproved { username, .. } => {
            format!("{who} approved the request of {username} to join")
        }
        TeamEvent::JoinDeclined { username, .. } => {
            format!("{who} declined the request of {username} to join")
        }
        TeamEvent::MemberDisabled {
            username,
            disabled: true,
            ..
        } => format!("The operator disabled the account of {username}"),
        TeamEvent::MemberDisabled { username, .. } => {
            format!("The operator enabled the account of {username} again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_read_as_sentences() {
        let ada = api::AuditActor {
            id: "1".into(),
            username: Some("ada".into()),
        };
        // As stored, including events recorded before a field existed.
        let said = |kind: &str, data: &str, actor: Option<&api::AuditActor>| {
            summary(TeamEvent::from_stored(kind, data).as_ref(), kind, actor)
        };
        assert_eq!(
            said(
                "invited",
                r#"{"invite_id":"i","email":"bob@example.com"}"#,
                Some(&ada)
            ),
            "ada invited bob@example.com"
        );
        assert_eq!(
            said("invited", r#"{"invite_id":"i","email":null}"#, Some(&ada)),
            "ada created an invite link"
        );
        assert_eq!(
            said(
                "removed",
                r#"{"user_id":"1","username":"ada","left":true}"#,
                Some(&ada)
            ),
            "ada left the team"
        );
        assert_eq!(
            said(
                "domain_verified",
                r#"{"domain":"example.com","method":"operator"}"#,
                None
            ),
            "The operator verified the domain example.com"
        );
        assert_eq!(
            said("archived", r#"{}"#, Some(&ada)),
            "ada: archived",
            "a kind from a newer version is named"
        );
    }
}
