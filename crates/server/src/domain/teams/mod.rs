//! Teams (T1-T6, T8, T9 and the team step of onboarding, A3): creating and
//! renaming, members and roles, invites by email and by link, seats, domain
//! verification, discovery and join requests, and the audit log.
//!
//! Every operation first asks [`policy::authorize`]. Writes run in one
//! transaction that takes the team's row lock ([`policy::authorize_locked`])
//! before reading anything they depend on (the seat count, the number of admins), and record their event
//! in the team's scope (`team:<id>`) in that same transaction; the audit log
//! reads that stream back.
//!
//! Seats (T3): members holding a paid seat plus pending, unexpired invites
//! never exceed the team's seats (from [`plans`]). Support-only members
//! (admin and/or billing held alone, at most [`MAX_SUPPORT_ONLY`]) take none.
//! Accepting an invite turns its seat into the member's; approving a join
//! request needs a free seat.
//!
//! The modules, by what they act on: `members` (members, roles, removing and leaving),
//! `invites`, `discovery` (domains, discovery and join requests), `audit`
//! (the audit log), `seats` (counting them) and `views` (rows to wire
//! types); creating, reading and renaming a team are here, with what the
//! others share (the event scope, recording, errors). Everything callers
//! use is re-exported, as `domain::teams::invite` and so on.

mod audit;
mod discovery;
mod invites;
mod members;
mod seats;
pub mod sso;
mod views;

pub use audit::{audit_log, AUDIT_PAGE};
pub use discovery::{
    add_domain, approve_join_request, decline_join_request, discoverable, domains, join_requests,
    operator_verify_domain, remove_domain, request_to_join, set_discovery, verify_domain,
    waiting_join_requests, DNS_CHECKS_PER_TEAM, MAX_DOMAINS, TXT_LABEL, TXT_VALUE_PREFIX,
};
pub use invites::{
    accept_invite, cancel_invite, invite, invite_link, invites, preview_invite, INVITES_PER_TEAM,
    INVITE_MAILS_PER_ACCOUNT, INVITE_TTL,
};
pub(crate) use members::leave_all_for_deletion;
pub use members::{members, remove_member, set_role};
pub use seats::MAX_SUPPORT_ONLY;

use postroom_core::api;
use postroom_core::{Role, Slug, TeamEvent};

use self::views::{access_view, team_view};
use super::actor::Actor;
use super::limits::{self, Check, Rule};
use super::plans;
use super::policy::{self, TeamAction};
use crate::clock::{Millis, DAY};
use crate::error::{Error, FieldErrors, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, users::UserRow, Conn, Tx};

pub const MAX_NAME_LEN: usize = 100;

/// Teams one person may create.
pub const TEAMS_PER_ACCOUNT: Rule = Rule {
    name: "team_create:account",
    limit: 10,
    window: DAY,
};

fn scope(team_id: &str) -> String {
    format!("team:{team_id}")
}

/// Sets a team's plan and seats for the operator (O7), where no payment
/// provider takes payments: a paid plan's seats are `seats`, or the plan's
/// default, and never fewer than the members holding a seat and the pending
/// invites; Free has Free's seats, and a team with more members keeps them
/// all but adds nobody until it has room (B1). Recorded in the team's audit
/// log, in the caller's transaction; returns the team, the plan before and
/// the seats.
pub async fn operator_set_plan(
    tx: &mut Tx,
    slug: &str,
    plan: plans::Plan,
    seats: Option<i64>,
    now: Millis,
) -> Result<(store::teams::TeamRow, plans::Plan, i64)> {
    let team = store::teams::lock_by_slug(tx, &slug.trim().to_ascii_lowercase())
        .await?
        .ok_or_else(policy::team_not_found)?;
    let counts = store::teams::seat_counts(tx, &team.id, now).await?;
    let used = counts.members + counts.pending_invites;
    let seats = if plan == plans::FREE {
        if seats.is_some_and(|s| s != plans::FREE.seats) {
            return Err(Error::field(
                "seats",
                "invalid_seats",
                format!("Free has {} seats", plans::FREE.seats),
            ));
        }
        plans::FREE.seats
    } else {
        match seats {
            Some(s) if !(1..=10_000).contains(&s) => {
                return Err(Error::field(
                    "seats",
                    "invalid_seats",
                    "seats must be from 1 to 10000",
                ))
            }
            Some(s) if s < used => {
                return Err(Error::conflict(
                    "seats_below_members",
                    Some("seats"),
                    format!(
                        "the team uses {used} seats (members and pending invites): give it at least that many"
                    ),
                ))
            }
            Some(s) => s,
            None => plan.seats.max(used),
        }
    };
    let before = plans::by_id(&team.plan);
    store::operator::set_plan(tx, &team.id, plan.id, seats, now).await?;
    record(
        tx,
        &team.id,
        None,
        TeamEvent::PlanSet {
            from: team.plan.clone(),
            to: plan.id.to_owned(),
            seats,
        },
        now,
    )
    .await?;
    Ok((team, before, seats))
}

/// Tells each team of an account, in its audit log, that the operator
/// disabled (or enabled) it.
pub async fn record_member_disabled(
    c: &mut Tx,
    user: &UserRow,
    disabled: bool,
    now: Millis,
) -> Result<usize> {
    let teams = store::teams::of_user(c, &user.id).await?;
    for team in &teams {
        let event = TeamEvent::MemberDisabled {
            user_id: user.id.clone(),
            username: user.username.clone(),
            disabled,
        };
        record(c, &team.team.id, None, event, now).await?;
    }
    Ok(teams.len())
}

/// Records a team event in the caller's transaction.
async fn record(
    c: &mut Tx,
    team_id: &str,
    actor_id: Option<&str>,
    event: TeamEvent,
    now: Millis,
) -> Result<()> {
    store::events::record(c, &scope(team_id), actor_id, &event, now).await?;
    Ok(())
}

fn slug_taken() -> Error {
    Error::conflict(
        "slug_taken",
        Some("slug"),
        "a team with this URL name already exists",
    )
}

fn email_not_verified(what: &str) -> Error {
    Error::forbidden(
        "email_not_verified",
        format!("confirm your email address before you {what}"),
    )
}

fn already_a_member() -> Error {
    Error::conflict(
        "already_a_member",
        None,
        "this person is already a member of the team",
    )
}

fn parse_name(input: &str) -> std::result::Result<String, postroom_core::ValueError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(postroom_core::ValueError("name is required".into()));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(postroom_core::ValueError(format!(
            "name must be at most {MAX_NAME_LEN} characters"
        )));
    }
    postroom_core::check_display_text(name)
        .map_err(|e| postroom_core::ValueError(format!("name {e}")))?;
    Ok(name.to_owned())
}

/// Ids in paths are looked up only when they could be one (UUIDs), so junk
/// (a NUL byte, say) never reaches the database.
fn plausible_id(id: &str, what: &'static str) -> Result<()> {
    if !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::NotFound { what })
    }
}

async fn load_user(c: &mut Conn, id: &str) -> Result<UserRow> {
    store::users::by_id(c, id)
        .await?
        .ok_or(Error::NotFound { what: "user" })
}

fn role_of(s: &str) -> Role {
    Role::parse(s).unwrap_or(Role::Member)
}

// Teams (T1).

/// Creates a team; the creator is its first admin and holds a seat.
pub async fn create(app: &App, actor: &Actor, req: &api::CreateTeamRequest) -> Result<api::Team> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", parse_name(&req.name));
    let slug = errors.check("slug", Slug::parse(&req.slug));
    errors.into_result()?;
    let (name, slug) = (name.expect("checked"), slug.expect("checked"));
    limits::limit(app, &[Check::new(TEAMS_PER_ACCOUNT, &actor.user_id)]).await?;
    let now = app.clock.now();
    let plan = plans::for_new_team();
    let mut tx = app.store.begin().await?;
    let user = load_user(&mut tx, &actor.user_id).await?;
    if user.email_verified_at.is_none() {
        return Err(email_not_verified("create a team"));
    }
    let team = match store::teams::insert(
        &mut tx,
        &store::teams::NewTeam {
            name: &name,
            slug: slug.as_str(),
            plan: plan.id,
            seats: plan.seats,
            created_by: &user.id,
        },
        now,
    )
    .await
    {
        Ok(t) => t,
        Err(e) if store::is_unique_violation(&e, "teams_slug") => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    };
    let member = store::teams::insert_member(
        &mut tx,
        &team.id,
        &user.id,
        Role::Admin.as_str(),
        false,
        now,
    )
    .await?;
    record(
        &mut tx,
        &team.id,
        Some(&user.id),
        TeamEvent::Created {
            name: team.name.clone(),
            slug: team.slug.clone(),
            username: user.username.clone(),
        },
        now,
    )
    .await?;
    let view = team_view(
        app,
        &mut tx,
        &team,
        &member.role,
        member.support_only,
        member.created_at,
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// The teams I belong to.
pub async fn list_mine(app: &App, actor: &Actor) -> Result<api::TeamList> {
    let mut c = app.store.conn().await?;
    let rows = store::teams::of_user(&mut c, &actor.user_id).await?;
    let mut teams = Vec::with_capacity(rows.len());
    for r in &rows {
        teams.push(team_view(app, &mut c, &r.team, &r.role, r.support_only, r.joined_at).await?);
    }
    Ok(api::TeamList { teams })
}

pub async fn get(app: &App, actor: &Actor, slug: &str) -> Result<api::Team> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::View).await?;
    access_view(app, &mut c, &access).await
}

pub async fn update(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: &api::UpdateTeamRequest,
) -> Result<api::Team> {
    let name = match &req.name {
        Some(n) => Some(parse_name(n).map_err(|e| Error::field("name", "validation_failed", e.0))?),
        None => None,
    };
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::Rename).await?;
    if let Some(name) = name.filter(|n| *n != access.team.name) {
        store::teams::rename(&mut tx, &access.team.id, &name, now).await?;
        record(
            &mut tx,
            &access.team.id,
            Some(&actor.user_id),
            TeamEvent::Renamed {
                from: access.team.name.clone(),
                to: name.clone(),
            },
            now,
        )
        .await?;
        access.team.name = name;
    }
    let view = access_view(app, &mut tx, &access).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes a team (admins): its members, invites, domains, join requests
/// and audit log go with it, in one transaction under the team's row lock.
/// Every other member is told by mail. A paid subscription ends at once
/// (see `billing::close_for_deletion`); invoices and the ledger stay for the
/// operator's records.
pub async fn delete(app: &App, actor: &Actor, slug: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::Delete).await?;
    let team = &access.team;
    let admin = load_user(&mut tx, &actor.user_id).await?;
    let members = store::teams::members(&mut tx, &team.id).await?;
    for m in members.iter().filter(|m| m.person.user_id != actor.user_id) {
        app.mailer
            .queue(
                &mut tx,
                &m.person.email,
                Template::TeamDeleted,
                serde_json::json!({
                    "username": m.person.username,
                    "admin": admin.username,
                    "team_name": team.name,
                }),
                now,
            )
            .await?;
    }
    crate::domain::billing::close_for_deletion(app, &mut tx, team, now).await?;
    store::teams::delete(&mut tx, &team.id).await?;
    store::events::delete_scope(&mut tx, &scope(&team.id)).await?;
    // The change log of the team's workspace items (which go with the
    // team's row), when there is one.
    store::events::delete_scope(&mut tx, &crate::domain::workspace::team_scope(&team.id)).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("  Acme Labs ").unwrap(), "Acme Labs");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name("Acme\nBcc: x").is_err());
    }
}
