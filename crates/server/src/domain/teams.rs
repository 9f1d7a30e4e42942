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
//! Invite tokens are derived from the invite's id with a server-held key
//! (HMAC), and only their hash is stored, so an admin can copy a pending
//! invite's link again while the database never holds it.

use hmac::{Hmac, Mac};
use postroom_core::api;
use postroom_core::{DomainName, Email, JoinedVia, Role, Slug, Stored, TeamEvent};
use serde_json::{json, Value};
use sha2::Sha256;

use super::actor::Actor;
use super::dns::LookupError;
use super::limits::{self, Check, Rule};
use super::policy::{self, Access, TeamAction};
use super::{plans, tokens, views};
use crate::clock::{rfc3339, Millis, DAY, HOUR, MINUTE};
use crate::error::{Error, FieldErrors, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{
    self,
    teams::{
        DomainRow, InviteRow, JoinRequestRow, MemberPersonRow, PersonRow, SeatCounts, TeamRow,
    },
    users::UserRow,
    Conn, Tx,
};

/// How long an invite stays valid.
pub const INVITE_TTL: Millis = 7 * DAY;
/// Support-only members (no seat) a team may have (T2).
pub const MAX_SUPPORT_ONLY: i64 = 2;
/// Email domains a team may add.
pub const MAX_DOMAINS: i64 = 10;
pub const MAX_NAME_LEN: usize = 100;
/// The DNS name of a domain's verification record is `<this>.<domain>`.
pub const TXT_LABEL: &str = "_postroom-verification";
/// The verification record's value is `<this><token>`.
pub const TXT_VALUE_PREFIX: &str = "postroom-verification=";

/// Invites (and so mails) a team may send.
pub const INVITES_PER_TEAM: Rule = Rule {
    name: "team_invites:team",
    limit: 50,
    window: HOUR,
};
/// Invite mails one person may have sent, over all their teams: a team's own
/// budget alone would let someone who makes many teams mail many strangers.
pub const INVITE_MAILS_PER_ACCOUNT: Rule = Rule {
    name: "team_invites:account",
    limit: 50,
    window: HOUR,
};
/// Teams one person may create.
pub const TEAMS_PER_ACCOUNT: Rule = Rule {
    name: "team_create:account",
    limit: 10,
    window: DAY,
};
/// DNS lookups a team may ask for.
pub const DNS_CHECKS_PER_TEAM: Rule = Rule {
    name: "team_dns:team",
    limit: 20,
    window: 15 * MINUTE,
};

fn scope(team_id: &str) -> String {
    format!("team:{team_id}")
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

fn no_seats(team: &TeamRow) -> Error {
    Error::conflict(
        "no_seats_available",
        None,
        format!(
            "all {} seats of this team are taken by members and pending invites; cancel an invite, remove a member or add seats",
            team.seats
        ),
    )
}

fn last_admin() -> Error {
    Error::conflict(
        "last_admin",
        None,
        "a team needs at least one admin: make someone else an admin first",
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

// Views.

fn seat_usage(team: &TeamRow, counts: SeatCounts) -> api::SeatUsage {
    let used = counts.members + counts.pending_invites;
    api::SeatUsage {
        total: team.seats.max(0) as u32,
        members: counts.members.max(0) as u32,
        pending_invites: counts.pending_invites.max(0) as u32,
        available: (team.seats - used).max(0) as u32,
    }
}

fn has_free_seat(team: &TeamRow, counts: SeatCounts) -> bool {
    counts.members + counts.pending_invites < team.seats
}

fn role_of(s: &str) -> Role {
    Role::parse(s).unwrap_or(Role::Member)
}

async fn team_view(
    app: &App,
    c: &mut Conn,
    team: &TeamRow,
    role: &str,
    support_only: i64,
    joined_at: i64,
) -> Result<api::Team> {
    let counts = store::teams::seat_counts(c, &team.id, app.clock.now()).await?;
    Ok(api::Team {
        id: team.id.clone(),
        name: team.name.clone(),
        slug: team.slug.clone(),
        plan: plans::by_id(&team.plan).id.to_owned(),
        seats: seat_usage(team, counts),
        discoverable: team.discoverable != 0,
        membership: api::TeamMembership {
            role: role_of(role),
            support_only: support_only != 0,
            joined_at: rfc3339(joined_at),
        },
        created_at: rfc3339(team.created_at),
    })
}

async fn access_view(app: &App, c: &mut Conn, access: &Access) -> Result<api::Team> {
    let m = access.member.as_ref().ok_or_else(policy::team_not_found)?;
    team_view(app, c, &access.team, &m.role, m.support_only, m.created_at).await
}

fn person_view(app: &App, p: &PersonRow) -> api::TeamUser {
    api::TeamUser {
        id: p.user_id.clone(),
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone(),
        avatar_url: views::avatar_url_of(app, &p.user_id, p.avatar_version),
    }
}

fn member_view(app: &App, m: &MemberPersonRow) -> api::Member {
    api::Member {
        user: person_view(app, &m.person),
        role: role_of(&m.role),
        support_only: m.support_only != 0,
        joined_at: rfc3339(m.created_at),
    }
}

fn invite_token(app: &App, invite_id: &str) -> String {
    use base64::Engine;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&app.invite_key).expect("HMAC takes any key length");
    mac.update(invite_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The link an invite's token opens; the web dashboard serves it.
pub fn invite_link(app: &App, token: &str) -> String {
    app.settings.link(&format!("/invite?token={token}"))
}

fn invite_status(i: &InviteRow, now: Millis) -> api::InviteStatus {
    match i.status.as_str() {
        "accepted" => api::InviteStatus::Accepted,
        "cancelled" => api::InviteStatus::Cancelled,
        _ if i.expires_at <= now => api::InviteStatus::Expired,
        _ => api::InviteStatus::Pending,
    }
}

fn invite_view(app: &App, i: &InviteRow, now: Millis) -> api::Invite {
    let status = invite_status(i, now);
    let token = (status == api::InviteStatus::Pending).then(|| invite_token(app, &i.id));
    api::Invite {
        id: i.id.clone(),
        email: i.email.clone(),
        status,
        link: token.as_deref().map(|t| invite_link(app, t)),
        token,
        invited_by: i.created_by_username.clone(),
        created_at: rfc3339(i.created_at),
        expires_at: rfc3339(i.expires_at),
    }
}

fn txt_name(domain: &str) -> String {
    format!("{TXT_LABEL}.{domain}")
}

fn txt_value(d: &DomainRow) -> String {
    format!("{TXT_VALUE_PREFIX}{}", d.txt_token)
}

fn domain_view(d: &DomainRow) -> api::TeamDomain {
    api::TeamDomain {
        domain: d.domain.clone(),
        verified: d.verified_at.is_some(),
        verified_at: d.verified_at.map(rfc3339),
        txt_name: txt_name(&d.domain),
        txt_value: txt_value(d),
        created_at: rfc3339(d.created_at),
    }
}

fn join_request_view(app: &App, team: &TeamRow, r: &JoinRequestRow) -> api::JoinRequest {
    api::JoinRequest {
        id: r.id.clone(),
        team_slug: team.slug.clone(),
        user: person_view(app, &r.person),
        status: match r.status.as_str() {
            "approved" => api::JoinRequestStatus::Approved,
            "declined" => api::JoinRequestStatus::Declined,
            "withdrawn" => api::JoinRequestStatus::Withdrawn,
            _ => api::JoinRequestStatus::Pending,
        },
        created_at: rfc3339(r.created_at),
        decided_at: r.decided_at.map(rfc3339),
    }
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

// Members and roles (T2, T5, T6).

pub async fn members(app: &App, actor: &Actor, slug: &str) -> Result<api::MemberList> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ListMembers).await?;
    let rows = store::teams::members(&mut c, &access.team.id).await?;
    let counts = store::teams::seat_counts(&mut c, &access.team.id, app.clock.now()).await?;
    Ok(api::MemberList {
        members: rows.iter().map(|m| member_view(app, m)).collect(),
        seats: seat_usage(&access.team, counts),
    })
}

/// Removes a member (admins), or leaves (anyone, for themselves). Another
/// admin cannot be removed, and the last admin cannot leave.
pub async fn remove_member(app: &App, actor: &Actor, slug: &str, user_id: &str) -> Result<()> {
    let leaving = user_id == actor.user_id;
    let action = if leaving {
        TeamAction::Leave
    } else {
        TeamAction::RemoveMember
    };
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, action).await?;
    let team = &access.team;
    plausible_id(user_id, "member")?;
    let target = store::teams::member_person(&mut tx, &team.id, user_id)
        .await?
        .ok_or(Error::NotFound { what: "member" })?;
    if role_of(&target.role) == Role::Admin {
        if !leaving {
            return Err(Error::forbidden(
                "cannot_remove_admin",
                "an admin cannot be removed by another admin; they may leave themselves",
            ));
        }
        if store::teams::count_admins(&mut tx, &team.id).await? <= 1 {
            return Err(last_admin());
        }
    }
    store::teams::delete_member(&mut tx, &team.id, user_id).await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::Removed {
            user_id: user_id.to_owned(),
            username: target.person.username.clone(),
            left: leaving,
            account_deleted: false,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes a person out of every team before their account is deleted (P9),
/// in the deletion's transaction: a team they are the only member of is
/// deleted with them; from the others they leave, recorded in each audit
/// log. Returns the slugs of the teams they alone administer while others
/// remain, which must be handed over first; then nothing may be committed.
/// The caller has locked the account (`users::lock_for_deletion`), so no
/// membership can be added meanwhile.
pub(crate) async fn leave_all_for_deletion(
    tx: &mut Tx,
    user: &UserRow,
    now: Millis,
) -> Result<Vec<String>> {
    let mut sole_admin_of = Vec::new();
    for mine in store::teams::of_user(tx, &user.id).await? {
        let team = &mine.team;
        // The row lock keeps the counts below true until the commit; the
        // membership is read again under it (the role may have changed).
        store::teams::lock(tx, &team.id).await?;
        let Some(membership) = store::teams::member(tx, &team.id, &user.id).await? else {
            continue;
        };
        let counts = store::teams::seat_counts(tx, &team.id, now).await?;
        if counts.members + counts.support_only <= 1 {
            store::teams::delete(tx, &team.id).await?;
            store::events::delete_scope(tx, &scope(&team.id)).await?;
            continue;
        }
        if role_of(&membership.role) == Role::Admin
            && store::teams::count_admins(tx, &team.id).await? <= 1
        {
            sole_admin_of.push(team.slug.clone());
            continue;
        }
        store::teams::delete_member(tx, &team.id, &user.id).await?;
        record(
            tx,
            &team.id,
            Some(&user.id),
            TeamEvent::Removed {
                user_id: user.id.clone(),
                username: user.username.clone(),
                left: true,
                account_deleted: true,
            },
            now,
        )
        .await?;
    }
    Ok(sole_admin_of)
}

/// Changes a member's role (admins; an admin may change their own, i.e.
/// step down). Another admin cannot be demoted (T6); the last admin cannot
/// step down; becoming a seat holder needs a free seat; at most
/// [`MAX_SUPPORT_ONLY`] members may be support-only.
pub async fn set_role(
    app: &App,
    actor: &Actor,
    slug: &str,
    user_id: &str,
    req: &api::SetRoleRequest,
) -> Result<api::Member> {
    if req.support_only && !req.role.is_support() {
        return Err(Error::field(
            "support_only",
            "validation_failed",
            "only the admin and billing roles can be held without a seat",
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ChangeRole).await?;
    let team = &access.team;
    plausible_id(user_id, "member")?;
    let target = store::teams::member_person(&mut tx, &team.id, user_id)
        .await?
        .ok_or(Error::NotFound { what: "member" })?;
    let (from, from_support_only) = (role_of(&target.role), target.support_only != 0);
    if from == req.role && from_support_only == req.support_only {
        return Ok(member_view(app, &target));
    }
    let myself = user_id == actor.user_id;
    if from == Role::Admin && !myself {
        return Err(Error::forbidden(
            "cannot_demote_admin",
            "an admin's role can only be changed by that admin",
        ));
    }
    if from == Role::Admin
        && req.role != Role::Admin
        && store::teams::count_admins(&mut tx, &team.id).await? <= 1
    {
        return Err(last_admin());
    }
    let counts = store::teams::seat_counts(&mut tx, &team.id, now).await?;
    if from_support_only && !req.support_only && !has_free_seat(team, counts) {
        return Err(no_seats(team));
    }
    if req.support_only && !from_support_only && counts.support_only >= MAX_SUPPORT_ONLY {
        return Err(Error::conflict(
            "too_many_support_roles",
            None,
            format!(
                "a team can have at most {MAX_SUPPORT_ONLY} members holding only a support role"
            ),
        ));
    }
    store::teams::set_role(
        &mut tx,
        &team.id,
        user_id,
        req.role.as_str(),
        req.support_only,
        now,
    )
    .await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::RoleChanged {
            user_id: user_id.to_owned(),
            username: target.person.username.clone(),
            from: from.as_str().to_owned(),
            to: req.role.as_str().to_owned(),
            from_support_only,
            support_only: req.support_only,
        },
        now,
    )
    .await?;
    let updated = store::teams::member_person(&mut tx, &team.id, user_id)
        .await?
        .ok_or(Error::NotFound { what: "member" })?;
    tx.commit().await?;
    Ok(member_view(app, &updated))
}

// Invites (T3, T4).

/// Invites by email (a mail with the link is queued) or, without an email,
/// makes a link invite. Each pending invite holds a seat; the seat count is
/// read and the invite written under the team's row lock.
pub async fn invite(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: &api::CreateInviteRequest,
) -> Result<api::Invite> {
    let email = match &req.email {
        Some(e) => {
            Some(Email::parse(e).map_err(|e| Error::field("email", "validation_failed", e.0))?)
        }
        None => None,
    };
    // Rate-limited per team, checked (outside the transaction) only for
    // those allowed to invite, so outsiders cannot use up a team's budget.
    {
        let mut c = app.store.conn().await?;
        let access = policy::authorize(&mut c, actor, slug, TeamAction::Invite).await?;
        drop(c);
        let team_budget = Check::new(INVITES_PER_TEAM, &access.team.id);
        if email.is_some() {
            let account_budget = Check::new(INVITE_MAILS_PER_ACCOUNT, &actor.user_id);
            limits::limit(app, &[team_budget, account_budget]).await?;
        } else {
            limits::limit(app, &[team_budget]).await?;
        }
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::Invite).await?;
    let team = &access.team;
    let inviter = load_user(&mut tx, &actor.user_id).await?;
    if inviter.email_verified_at.is_none() {
        return Err(email_not_verified("invite people"));
    }
    let email_key = email.as_ref().map(Email::key);
    if let Some(key) = &email_key {
        if let Some(existing) = store::users::by_email_key(&mut tx, key).await? {
            if store::teams::member(&mut tx, &team.id, &existing.id)
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    "already_a_member",
                    Some("email"),
                    "the person with this address is already a member of the team",
                ));
            }
        }
        if store::teams::has_pending_invite_for(&mut tx, &team.id, key, now).await? {
            return Err(Error::conflict(
                "already_invited",
                Some("email"),
                "this address already has a pending invite; cancel it to send a new one",
            ));
        }
    }
    let counts = store::teams::seat_counts(&mut tx, &team.id, now).await?;
    if !has_free_seat(team, counts) {
        return Err(no_seats(team));
    }
    let id = store::new_id();
    let token = invite_token(app, &id);
    let row = store::teams::insert_invite(
        &mut tx,
        &store::teams::NewInvite {
            id: &id,
            team_id: &team.id,
            email: email.as_ref().map(Email::as_str),
            email_key: email_key.as_deref(),
            token_hash: &tokens::hash(&token),
            created_by: &inviter.id,
            expires_at: now + INVITE_TTL,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        &team.id,
        Some(&inviter.id),
        TeamEvent::Invited {
            invite_id: id.clone(),
            email: row.email.clone(),
        },
        now,
    )
    .await?;
    if let Some(email) = &email {
        app.mailer
            .queue(
                &mut tx,
                email.as_str(),
                Template::TeamInvite,
                json!({
                    "username": inviter.username,
                    "team_name": team.name,
                    "email": email.as_str(),
                    "link": invite_link(app, &token),
                    "expires_at": rfc3339(row.expires_at),
                }),
                now,
            )
            .await?;
    }
    tx.commit().await?;
    Ok(invite_view(app, &row, now))
}

/// Pending invites that have not expired, each with its link.
pub async fn invites(app: &App, actor: &Actor, slug: &str) -> Result<api::InviteList> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ListInvites).await?;
    let now = app.clock.now();
    let rows = store::teams::pending_invites(&mut c, &access.team.id, now).await?;
    Ok(api::InviteList {
        invites: rows.iter().map(|i| invite_view(app, i, now)).collect(),
    })
}

/// Cancels a pending invite: its link stops working at once and its seat is free.
pub async fn cancel_invite(app: &App, actor: &Actor, slug: &str, invite_id: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::CancelInvite).await?;
    plausible_id(invite_id, "invite")?;
    let invite = store::teams::invite(&mut tx, &access.team.id, invite_id)
        .await?
        .ok_or(Error::NotFound { what: "invite" })?;
    if !store::teams::cancel_invite(&mut tx, &invite.id, now).await? {
        return Err(Error::conflict(
            "invite_not_pending",
            None,
            "this invite was already accepted or cancelled",
        ));
    }
    record(
        &mut tx,
        &access.team.id,
        Some(&actor.user_id),
        TeamEvent::InviteCancelled {
            invite_id: invite.id.clone(),
            email: invite.email.clone(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn invite_not_found() -> Error {
    Error::NotFound { what: "invite" }
}

/// Finds a usable invite by its token; each unusable state has its own code.
async fn usable_invite(c: &mut Conn, token: &str, now: Millis) -> Result<InviteRow> {
    let token = token.trim();
    if !tokens::well_formed(token, "") {
        return Err(invite_not_found());
    }
    let invite = store::teams::invite_by_token_hash(c, &tokens::hash(token))
        .await?
        .ok_or_else(invite_not_found)?;
    match invite.status.as_str() {
        "cancelled" => Err(Error::bad_request(
            "invite_cancelled",
            "this invite was cancelled by the team",
        )),
        "accepted" => Err(Error::bad_request(
            "invite_used",
            "this invite was already used",
        )),
        _ if invite.expires_at <= now => Err(Error::bad_request(
            "invite_expired",
            "this invite has expired; ask the team for a new one",
        )),
        _ => Ok(invite),
    }
}

/// What an invite link is for, before accepting it (no sign-in needed: the
/// token is the credential).
pub async fn preview_invite(app: &App, token: &str) -> Result<api::InvitePreview> {
    let mut c = app.store.conn().await?;
    let invite = usable_invite(&mut c, token, app.clock.now()).await?;
    let team = store::teams::by_id(&mut c, &invite.team_id)
        .await?
        .ok_or_else(invite_not_found)?;
    Ok(api::InvitePreview {
        team_name: team.name,
        team_slug: team.slug,
        email: invite.email,
        invited_by: invite.created_by_username,
        expires_at: rfc3339(invite.expires_at),
    })
}

/// Accepts an invite: the caller joins as a member, in the seat the invite
/// held. An email invite must be accepted by the account with that address.
/// Accepting does not confirm the address: an admin can copy the link of an
/// email invite, so holding it proves nothing; only the confirmation link
/// mailed to the address does.
pub async fn accept_invite(app: &App, actor: &Actor, token: &str) -> Result<api::Team> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let invite = usable_invite(&mut tx, token, now).await?;
    let team = store::teams::lock(&mut tx, &invite.team_id)
        .await?
        .ok_or_else(invite_not_found)?;
    let user = load_user(&mut tx, &actor.user_id).await?;
    if let Some(key) = &invite.email_key {
        if user.email.to_lowercase() != *key {
            return Err(Error::forbidden(
                "invite_for_another_address",
                "this invite was sent to another email address: sign in with that address to accept it",
            ));
        }
    }
    if store::teams::member(&mut tx, &team.id, &user.id)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "already_a_member",
            None,
            "you are already a member of this team",
        ));
    }
    if !store::teams::accept_invite(&mut tx, &invite.id, &user.id, now).await? {
        return Err(Error::bad_request(
            "invite_used",
            "this invite was already used",
        ));
    }
    let member = store::teams::insert_member(
        &mut tx,
        &team.id,
        &user.id,
        Role::Member.as_str(),
        false,
        now,
    )
    .await?;
    store::teams::withdraw_join_requests(&mut tx, &team.id, &user.id, now).await?;
    record(
        &mut tx,
        &team.id,
        Some(&user.id),
        TeamEvent::Joined {
            user_id: user.id.clone(),
            username: user.username.clone(),
            via: JoinedVia::Invite,
            invite_id: Some(invite.id.clone()),
            request_id: None,
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

// Domains and discovery (T8, A3).

fn parse_domain(input: &str) -> Result<DomainName> {
    DomainName::parse(input).map_err(|e| Error::field("domain", "validation_failed", e.0))
}

pub async fn domains(app: &App, actor: &Actor, slug: &str) -> Result<api::TeamDomainList> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageDomains).await?;
    let rows = store::teams::domains(&mut c, &access.team.id).await?;
    Ok(api::TeamDomainList {
        domains: rows.iter().map(domain_view).collect(),
    })
}

/// Adds an email domain to verify; the answer names the TXT record to publish.
pub async fn add_domain(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: &api::AddDomainRequest,
) -> Result<api::TeamDomain> {
    let domain = parse_domain(&req.domain)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageDomains).await?;
    let team = &access.team;
    if store::teams::count_domains(&mut tx, &team.id).await? >= MAX_DOMAINS {
        return Err(Error::conflict(
            "too_many_domains",
            None,
            format!("a team can have at most {MAX_DOMAINS} domains"),
        ));
    }
    let row = match store::teams::insert_domain(
        &mut tx,
        &team.id,
        domain.as_str(),
        &tokens::random_token(18),
        now,
    )
    .await
    {
        Ok(r) => r,
        Err(e) if store::is_unique_violation(&e, "team_domains_team_id_domain") => {
            return Err(Error::conflict(
                "domain_already_added",
                Some("domain"),
                "the team already has this domain",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::DomainAdded {
            domain: row.domain.clone(),
            by: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(domain_view(&row))
}

/// Turns discovery off, with an event, when no verified domain is left.
async fn discovery_off_without_domains(
    c: &mut Tx,
    team: &TeamRow,
    actor_id: Option<&str>,
    now: Millis,
) -> Result<()> {
    if team.discoverable != 0 && store::teams::count_verified_domains(c, &team.id).await? == 0 {
        store::teams::set_discoverable(c, &team.id, false, now).await?;
        record(
            c,
            &team.id,
            actor_id,
            TeamEvent::DiscoveryChanged {
                enabled: false,
                reason: Some("no_verified_domain".to_owned()),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

pub async fn remove_domain(app: &App, actor: &Actor, slug: &str, domain: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageDomains).await?;
    let team = &access.team;
    let domain = DomainName::parse(domain).map_err(|_| Error::NotFound { what: "domain" })?;
    if !store::teams::delete_domain(&mut tx, &team.id, domain.as_str()).await? {
        return Err(Error::NotFound { what: "domain" });
    }
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::DomainRemoved {
            domain: domain.as_str().to_owned(),
        },
        now,
    )
    .await?;
    discovery_off_without_domains(&mut tx, team, Some(&actor.user_id), now).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a domain verified in the caller's transaction (the team row locked).
async fn mark_verified(
    c: &mut Tx,
    team: &TeamRow,
    domain: &str,
    method: &str,
    actor_id: Option<&str>,
    now: Millis,
) -> Result<DomainRow> {
    let row = match store::teams::mark_domain_verified(c, &team.id, domain, method, now).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(Error::NotFound { what: "domain" }),
        Err(e) if store::is_unique_violation(&e, "team_domains_domain") => {
            return Err(Error::conflict(
                "domain_taken",
                Some("domain"),
                "another team has already verified this domain",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    record(
        c,
        &team.id,
        actor_id,
        TeamEvent::DomainVerified {
            domain: domain.to_owned(),
            method: method.to_owned(),
        },
        now,
    )
    .await?;
    Ok(row)
}

/// Checks the domain's TXT record (`_postroom-verification.<domain>` =
/// `postroom-verification=<token>`) and marks the domain verified when it
/// is there. The lookup runs outside any transaction.
pub async fn verify_domain(
    app: &App,
    actor: &Actor,
    slug: &str,
    domain: &str,
) -> Result<api::TeamDomain> {
    let domain = DomainName::parse(domain).map_err(|_| Error::NotFound { what: "domain" })?;
    let row = {
        let mut c = app.store.conn().await?;
        let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageDomains).await?;
        let row = store::teams::domain(&mut c, &access.team.id, domain.as_str())
            .await?
            .ok_or(Error::NotFound { what: "domain" })?;
        if row.verified_at.is_some() {
            return Ok(domain_view(&row));
        }
        drop(c);
        limits::limit(app, &[Check::new(DNS_CHECKS_PER_TEAM, &access.team.id)]).await?;
        row
    };
    let (name, expected) = (txt_name(&row.domain), txt_value(&row));
    let resolver = app.dns.get();
    match resolver.lookup_txt(&name).await {
        Ok(records) if records.iter().any(|r| r.trim() == expected) => {}
        Ok(_) | Err(LookupError::NotFound) => {
            return Err(Error::conflict(
                "txt_record_not_found",
                None,
                format!("no TXT record {name} with the value {expected} was found; publish it, wait for DNS to update, and try again"),
            ))
        }
        Err(LookupError::Failed(why)) => {
            tracing::warn!(domain = %row.domain, error = %why, "DNS lookup for domain verification failed");
            return Err(Error::conflict(
                "dns_lookup_failed",
                None,
                format!("the DNS lookup of {name} failed; try again later"),
            ));
        }
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageDomains).await?;
    let current = store::teams::domain(&mut tx, &access.team.id, domain.as_str())
        .await?
        .filter(|d| d.txt_token == row.txt_token)
        .ok_or(Error::NotFound { what: "domain" })?;
    if current.verified_at.is_some() {
        return Ok(domain_view(&current));
    }
    let verified = mark_verified(
        &mut tx,
        &access.team,
        domain.as_str(),
        "dns",
        Some(&actor.user_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(domain_view(&verified))
}

/// The operator's verification (O7, `postroom verify-domain`): adds the
/// domain to the team when needed and marks it verified, without DNS.
pub async fn operator_verify_domain(
    app: &App,
    slug: &str,
    domain: &str,
) -> Result<api::TeamDomain> {
    let domain = parse_domain(domain)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let team = store::teams::lock_by_slug(&mut tx, &slug.trim().to_ascii_lowercase())
        .await?
        .ok_or_else(policy::team_not_found)?;
    let existing = store::teams::domain(&mut tx, &team.id, domain.as_str()).await?;
    if let Some(d) = existing.as_ref().filter(|d| d.verified_at.is_some()) {
        return Ok(domain_view(d));
    }
    if existing.is_none() {
        store::teams::insert_domain(
            &mut tx,
            &team.id,
            domain.as_str(),
            &tokens::random_token(18),
            now,
        )
        .await?;
        record(
            &mut tx,
            &team.id,
            None,
            TeamEvent::DomainAdded {
                domain: domain.as_str().to_owned(),
                by: Some("operator".to_owned()),
            },
            now,
        )
        .await?;
    }
    let row = mark_verified(&mut tx, &team, domain.as_str(), "operator", None, now).await?;
    tx.commit().await?;
    Ok(domain_view(&row))
}

/// Turns discovery on (needs a verified domain) or off.
pub async fn set_discovery(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: &api::SetDiscoveryRequest,
) -> Result<api::Team> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut access =
        policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageDiscovery).await?;
    let team_id = access.team.id.clone();
    if req.enabled && store::teams::count_verified_domains(&mut tx, &team_id).await? == 0 {
        return Err(Error::conflict(
            "no_verified_domain",
            None,
            "verify an email domain before turning discovery on",
        ));
    }
    if (access.team.discoverable != 0) != req.enabled {
        store::teams::set_discoverable(&mut tx, &team_id, req.enabled, now).await?;
        record(
            &mut tx,
            &team_id,
            Some(&actor.user_id),
            TeamEvent::DiscoveryChanged {
                enabled: req.enabled,
                reason: None,
            },
            now,
        )
        .await?;
        access.team.discoverable = req.enabled as i64;
    }
    let view = access_view(app, &mut tx, &access).await?;
    tx.commit().await?;
    Ok(view)
}

/// Teams that list themselves to me: discovery on, and my verified email's
/// domain verified by the team. Empty while my email is unverified.
pub async fn discoverable(app: &App, actor: &Actor) -> Result<api::DiscoverableTeamList> {
    let mut c = app.store.conn().await?;
    let user = load_user(&mut c, &actor.user_id).await?;
    let Some(domain) = policy::verified_email_domain(&user) else {
        return Ok(api::DiscoverableTeamList { teams: vec![] });
    };
    let rows = store::teams::discoverable_by(&mut c, &user.id, &domain).await?;
    Ok(api::DiscoverableTeamList {
        teams: rows
            .into_iter()
            .map(|r| api::DiscoverableTeam {
                name: r.name,
                slug: r.slug,
                members: r.members.max(0) as u32,
                join_request_pending: r.pending_requests > 0,
            })
            .collect(),
    })
}

/// Asks to join a team discovery lists to me; an admin decides.
pub async fn request_to_join(app: &App, actor: &Actor, slug: &str) -> Result<api::JoinRequest> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::RequestToJoin).await?;
    let team = &access.team;
    let request =
        match store::teams::insert_join_request(&mut tx, &team.id, &actor.user_id, now).await {
            Ok(r) => r,
            Err(e) if store::is_unique_violation(&e, "team_join_requests_team_id_user_id") => {
                return Err(Error::conflict(
                    "join_request_pending",
                    None,
                    "you already asked to join this team; an admin will decide",
                ))
            }
            Err(e) => return Err(e.into()),
        };
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::JoinRequested {
            request_id: request.id.clone(),
            user_id: actor.user_id.clone(),
            username: request.person.username.clone(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(join_request_view(app, team, &request))
}

/// How many requests to join wait for the team's admins.
pub async fn waiting_join_requests(app: &App, actor: &Actor, slug: &str) -> Result<u64> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageJoinRequests).await?;
    Ok(store::teams::count_pending_join_requests(&mut c, &access.team.id).await? as u64)
}

pub async fn join_requests(app: &App, actor: &Actor, slug: &str) -> Result<api::JoinRequestList> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageJoinRequests).await?;
    let rows = store::teams::pending_join_requests(&mut c, &access.team.id).await?;
    Ok(api::JoinRequestList {
        join_requests: rows
            .iter()
            .map(|r| join_request_view(app, &access.team, r))
            .collect(),
    })
}

async fn pending_request(c: &mut Conn, team: &TeamRow, id: &str) -> Result<JoinRequestRow> {
    plausible_id(id, "join request")?;
    let request = store::teams::join_request(c, &team.id, id)
        .await?
        .ok_or(Error::NotFound {
            what: "join request",
        })?;
    if request.status != "pending" {
        return Err(Error::conflict(
            "join_request_not_pending",
            None,
            "this request was already decided",
        ));
    }
    Ok(request)
}

/// Approves a join request: the person joins as a member, in a free seat.
pub async fn approve_join_request(
    app: &App,
    actor: &Actor,
    slug: &str,
    request_id: &str,
) -> Result<api::Member> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access =
        policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageJoinRequests).await?;
    let team = &access.team;
    let request = pending_request(&mut tx, team, request_id).await?;
    let user_id = request.person.user_id.clone();
    if store::teams::member(&mut tx, &team.id, &user_id)
        .await?
        .is_some()
    {
        return Err(already_a_member());
    }
    let counts = store::teams::seat_counts(&mut tx, &team.id, now).await?;
    if !has_free_seat(team, counts) {
        return Err(no_seats(team));
    }
    store::teams::decide_join_request(&mut tx, &request.id, "approved", &actor.user_id, now)
        .await?;
    store::teams::insert_member(
        &mut tx,
        &team.id,
        &user_id,
        Role::Member.as_str(),
        false,
        now,
    )
    .await?;
    let username = &request.person.username;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::JoinApproved {
            request_id: request.id.clone(),
            user_id: user_id.clone(),
            username: username.clone(),
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::Joined {
            user_id: user_id.clone(),
            username: username.clone(),
            via: JoinedVia::JoinRequest,
            invite_id: None,
            request_id: Some(request.id.clone()),
        },
        now,
    )
    .await?;
    let member = store::teams::member_person(&mut tx, &team.id, &user_id)
        .await?
        .ok_or(Error::NotFound { what: "member" })?;
    tx.commit().await?;
    Ok(member_view(app, &member))
}

pub async fn decline_join_request(
    app: &App,
    actor: &Actor,
    slug: &str,
    request_id: &str,
) -> Result<api::JoinRequest> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access =
        policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageJoinRequests).await?;
    let team = &access.team;
    let request = pending_request(&mut tx, team, request_id).await?;
    store::teams::decide_join_request(&mut tx, &request.id, "declined", &actor.user_id, now)
        .await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::JoinDeclined {
            request_id: request.id.clone(),
            user_id: request.person.user_id.clone(),
            username: request.person.username.clone(),
        },
        now,
    )
    .await?;
    let decided = store::teams::join_request(&mut tx, &team.id, &request.id)
        .await?
        .ok_or(Error::NotFound {
            what: "join request",
        })?;
    tx.commit().await?;
    Ok(join_request_view(app, team, &decided))
}

// The audit log (T9).

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
        TeamEvent::JoinRequested { username, .. } => format!("{username} asked to join"),
        TeamEvent::JoinApproved { username, .. } => {
            format!("{who} approved the request of {username} to join")
        }
        TeamEvent::JoinDeclined { username, .. } => {
            format!("{who} declined the request of {username} to join")
        }
    }
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

    #[test]
    fn seats_never_go_negative() {
        let team = TeamRow {
            id: "t".into(),
            name: "T".into(),
            slug: "t".into(),
            plan: "free".into(),
            seats: 3,
            discoverable: 0,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        };
        let full = SeatCounts {
            members: 2,
            pending_invites: 1,
            support_only: 2,
        };
        assert!(!has_free_seat(&team, full));
        assert_eq!(seat_usage(&team, full).available, 0);
        let over = SeatCounts {
            members: 4,
            pending_invites: 0,
            support_only: 0,
        };
        assert_eq!(seat_usage(&team, over).available, 0);
        let free = SeatCounts {
            members: 1,
            pending_invites: 0,
            support_only: 0,
        };
        assert!(has_free_seat(&team, free));
        assert_eq!(seat_usage(&team, free).available, 2);
    }

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
