//! Who may do what to a team: the one place that decides it, for the API and
//! the web pages alike. Every team operation names a [`TeamAction`] and asks
//! [`authorize`] (or [`authorize_locked`], in a transaction that needs the
//! team's row lock) before anything else; handlers never decide.
//!
//! The rules:
//! - Someone outside a team learns nothing about it: every action answers
//!   404 "team not found", exactly as for a team that does not exist. The one
//!   exception is what discovery shows (T8): a person whose verified email
//!   domain the team verified, when discovery is on, may ask to join.
//! - Any member (whatever their role) may see the team and its members, and
//!   leave it.
//! - Everything else is for admins; other members get 403 `admin_required`.
//!
//! Some actions also depend on whom they are aimed at; each such rule is a
//! pure function here, called by the operation once it has read the target
//! under the team's row lock:
//! - [`decide_role_change`]: an admin's role is changed only by that admin
//!   (stepping down), and the last admin stays one.
//! - [`decide_removal`]: any member may be removed by an admin, another
//!   admin included (a colleague who left), or leave; the last admin never
//!   goes.
//! - [`decide_invite_acceptance`]: an email invite is accepted only by the
//!   account with that address.
//!
//! Membership is read from the database on every request, never cached, so
//! a removed member loses access on their very next request (T5).

use postroom_core::{Email, Role, Slug};

use super::actor::Actor;
use crate::error::{Error, Result};
use crate::store::{
    self,
    teams::{MemberRow, TeamRow},
    Conn, Tx,
};

/// Everything that can be done to a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAction {
    /// See the team (name, slug, seats, my membership).
    View,
    /// List the members and their roles.
    ListMembers,
    /// Remove oneself.
    Leave,
    Rename,
    /// Delete the team with everything in it.
    Delete,
    ListInvites,
    Invite,
    CancelInvite,
    /// Remove another member.
    RemoveMember,
    /// Change a role, one's own included (stepping down).
    ChangeRole,
    /// Add, list, verify and remove email domains.
    ManageDomains,
    /// Turn discovery on or off.
    ManageDiscovery,
    /// List, approve and decline join requests.
    ManageJoinRequests,
    ReadAuditLog,
    /// See, set up, test, enforce and remove single sign-on (A7).
    ManageSso,
    /// Ask to join: for non-members the team is discoverable to.
    RequestToJoin,
    /// See and change the plan, the billing details, cards, the balance
    /// and invoices (B1-B10): admins and the billing role. To other
    /// members billing does not exist (404).
    ManageBilling,
}

impl TeamAction {
    pub const ALL: [TeamAction; 17] = [
        TeamAction::View,
        TeamAction::ListMembers,
        TeamAction::Leave,
        TeamAction::Rename,
        TeamAction::Delete,
        TeamAction::ListInvites,
        TeamAction::Invite,
        TeamAction::CancelInvite,
        TeamAction::RemoveMember,
        TeamAction::ChangeRole,
        TeamAction::ManageDomains,
        TeamAction::ManageDiscovery,
        TeamAction::ManageJoinRequests,
        TeamAction::ReadAuditLog,
        TeamAction::ManageSso,
        TeamAction::RequestToJoin,
        TeamAction::ManageBilling,
    ];

    fn rule(self) -> Rule {
        match self {
            TeamAction::View | TeamAction::ListMembers | TeamAction::Leave => Rule::AnyMember,
            TeamAction::Rename
            | TeamAction::Delete
            | TeamAction::ListInvites
            | TeamAction::Invite
            | TeamAction::CancelInvite
            | TeamAction::RemoveMember
            | TeamAction::ChangeRole
            | TeamAction::ManageDomains
            | TeamAction::ManageDiscovery
            | TeamAction::ManageJoinRequests
            | TeamAction::ReadAuditLog
            | TeamAction::ManageSso => Rule::Admin,
            TeamAction::RequestToJoin => Rule::DiscoverableNonMember,
            TeamAction::ManageBilling => Rule::Billing,
        }
    }
}

enum Rule {
    AnyMember,
    Admin,
    /// Admins and the billing role; hidden (404) from other members.
    Billing,
    DiscoverableNonMember,
}

/// The caller's standing in a team, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not a member, and the team is not discoverable to them.
    Outsider,
    /// Not a member, but discovery lists the team to them.
    Discoverer,
    Member(Role),
}

pub fn team_not_found() -> Error {
    Error::NotFound { what: "team" }
}

/// The decision itself, without IO: may someone of this standing do this?
pub fn decide(standing: Standing, action: TeamAction) -> Result<()> {
    match (action.rule(), standing) {
        (Rule::DiscoverableNonMember, Standing::Member(_)) => Err(Error::conflict(
            "already_a_member",
            None,
            "you are already a member of this team",
        )),
        (Rule::DiscoverableNonMember, Standing::Discoverer) => Ok(()),
        (_, Standing::Outsider | Standing::Discoverer) => Err(team_not_found()),
        (Rule::AnyMember, Standing::Member(_)) => Ok(()),
        (Rule::Admin, Standing::Member(Role::Admin)) => Ok(()),
        (Rule::Admin, Standing::Member(_)) => Err(Error::forbidden(
            "admin_required",
            "only an admin of this team may do this",
        )),
        (Rule::Billing, Standing::Member(Role::Admin | Role::Billing)) => Ok(()),
        (Rule::Billing, Standing::Member(_)) => Err(Error::NotFound { what: "billing" }),
    }
}

/// The member an action is aimed at, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The actor themselves: leaving, or changing their own role.
    pub myself: bool,
    /// The target's role now.
    pub role: Role,
    /// The team's admins, the target included when they are one.
    pub admins: i64,
}

impl Target {
    /// Whether the team would have no admin left without this one.
    pub fn is_last_admin(&self) -> bool {
        self.role == Role::Admin && self.admins <= 1
    }
}

pub fn last_admin() -> Error {
    Error::conflict(
        "last_admin",
        None,
        "a team needs at least one admin: make someone else an admin first",
    )
}

/// May an admin change the target's role to `to`? (That the actor is an
/// admin is [`decide`]'s part.) An admin's role, support-only or not, is
/// changed only by that admin, and the last admin cannot stop being one.
pub fn decide_role_change(target: Target, to: Role) -> Result<()> {
    if target.role == Role::Admin && !target.myself {
        return Err(Error::forbidden(
            "cannot_demote_admin",
            "an admin's role can only be changed by that admin",
        ));
    }
    if to != Role::Admin && target.is_last_admin() {
        return Err(last_admin());
    }
    Ok(())
}

/// May the actor remove the target (an admin removing a member, or anyone
/// leaving, as [`decide`] allowed)? An admin may remove another admin, so
/// that a colleague who left does not keep access, and the last admin
/// cannot leave.
pub fn decide_removal(target: Target) -> Result<()> {
    if target.is_last_admin() {
        return Err(last_admin());
    }
    Ok(())
}

/// May an account with the address `account_email` accept an invite sent
/// to `invite_email_key` (the lowercased address; none for a link invite)?
/// An email invite is for that address only.
pub fn decide_invite_acceptance(invite_email_key: Option<&str>, account_email: &str) -> Result<()> {
    match invite_email_key {
        Some(key) if account_email.to_lowercase() != key => Err(Error::forbidden(
            "invite_for_another_address",
            "this invite was sent to another email address: sign in with that address to accept it",
        )),
        _ => Ok(()),
    }
}

/// A team the caller was allowed to act on, with their membership (none
/// for a discoverer asking to join).
#[derive(Debug, Clone)]
pub struct Access {
    pub team: TeamRow,
    pub member: Option<MemberRow>,
}

impl Access {
    pub fn role(&self) -> Option<Role> {
        self.member.as_ref().and_then(|m| Role::parse(&m.role))
    }
}

/// Looks the team up by slug and decides whether `actor` may do `action`
/// to it. Unknown slugs and teams the actor may not see are both 404.
pub async fn authorize(
    c: &mut Conn,
    actor: &Actor,
    slug: &str,
    action: TeamAction,
) -> Result<Access> {
    let slug = plausible_slug(slug)?;
    let team = store::teams::by_slug(c, &slug)
        .await?
        .ok_or_else(team_not_found)?;
    decide_for(c, actor, team, action).await
}

/// [`authorize`], taking the team's row lock first: writes that depend on
/// seats or on the admins take it, so the check and the write see the same
/// team.
pub async fn authorize_locked(
    tx: &mut Tx,
    actor: &Actor,
    slug: &str,
    action: TeamAction,
) -> Result<Access> {
    let slug = plausible_slug(slug)?;
    let team = store::teams::lock_by_slug(tx, &slug)
        .await?
        .ok_or_else(team_not_found)?;
    decide_for(tx, actor, team, action).await
}

/// The slug, lowercased, when it could be one; only what could be a slug
/// reaches the database.
fn plausible_slug(slug: &str) -> Result<String> {
    let slug = slug.trim().to_ascii_lowercase();
    if slug.is_empty()
        || slug.len() > Slug::MAX_LEN
        || !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(team_not_found());
    }
    Ok(slug)
}

async fn decide_for(
    c: &mut Conn,
    actor: &Actor,
    team: TeamRow,
    action: TeamAction,
) -> Result<Access> {
    let member = store::teams::member(c, &team.id, &actor.user_id).await?;
    let standing = match &member {
        Some(m) => Standing::Member(Role::parse(&m.role).unwrap_or(Role::Member)),
        None if action == TeamAction::RequestToJoin
            && discoverable_to(c, &team.id, &actor.user_id).await? =>
        {
            Standing::Discoverer
        }
        None => Standing::Outsider,
    };
    decide(standing, action)?;
    Ok(Access { team, member })
}

/// Whether discovery lists the team to this person: their email is verified
/// and its domain is one the team verified, with discovery on.
async fn discoverable_to(c: &mut Conn, team_id: &str, user_id: &str) -> Result<bool> {
    let Some(user) = store::users::by_id(c, user_id).await? else {
        return Ok(false);
    };
    let Some(domain) = verified_email_domain(&user) else {
        return Ok(false);
    };
    Ok(store::teams::is_discoverable_by(c, team_id, &domain).await?)
}

/// The domain of a person's email address, when they have verified it.
pub fn verified_email_domain(user: &store::users::UserRow) -> Option<String> {
    user.email_verified_at?;
    Email::parse(&user.email)
        .ok()
        .map(|e| e.domain().to_ascii_lowercase())
}

/// What can be done to a workspace item (S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemAction {
    /// Read it, its revisions, follow it, link to it.
    Read,
    /// Write a new revision, restore an old one.
    Write,
    /// Delete it, or move it out of its team.
    Remove,
}

impl ItemAction {
    pub const ALL: [ItemAction; 3] = [ItemAction::Read, ItemAction::Write, ItemAction::Remove];
}

/// The caller's standing toward an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStanding {
    /// Their own private item.
    Owner,
    /// A member holding a seat in the item's team.
    Seat {
        admin: bool,
        creator: bool,
    },
    /// A member of the item's team without a seat (admin or billing alone):
    /// they run the team, not its work, and do not see its items.
    SupportOnly,
    Outsider,
}

/// The decision, without IO. An item someone may not see is "not found",
/// exactly like one that does not exist (`what` names the kind).
///
/// - A private item is its owner's alone.
/// - A team's items are read and written by every member holding a seat;
///   deleting one or taking it out of the team is for whoever created it
///   and for admins.
pub fn decide_item(standing: ItemStanding, action: ItemAction, what: &'static str) -> Result<()> {
    match (standing, action) {
        (ItemStanding::Owner, _) => Ok(()),
        (ItemStanding::Seat { .. }, ItemAction::Read | ItemAction::Write) => Ok(()),
        (ItemStanding::Seat { admin, creator }, ItemAction::Remove) if admin || creator => Ok(()),
        (ItemStanding::Seat { .. }, ItemAction::Remove) => Err(Error::forbidden(
            "creator_or_admin_required",
            format!("only whoever created this {what} or an admin of the team may delete it or take it out of the team"),
        )),
        (ItemStanding::SupportOnly | ItemStanding::Outsider, _) => {
            Err(Error::NotFound { what })
        }
    }
}

/// Where the caller stands toward `item`, from the database (membership is
/// never cached: a removed member loses access on their next request).
pub async fn item_standing(
    c: &mut Conn,
    user_id: &str,
    item: &store::items::ItemRow,
) -> Result<ItemStanding> {
    if let Some(owner) = &item.owner_user_id {
        return Ok(if owner == user_id {
            ItemStanding::Owner
        } else {
            ItemStanding::Outsider
        });
    }
    let Some(team_id) = &item.owner_team_id else {
        return Ok(ItemStanding::Outsider);
    };
    Ok(match store::teams::member(c, team_id, user_id).await? {
        None => ItemStanding::Outsider,
        Some(m) if m.support_only != 0 => ItemStanding::SupportOnly,
        Some(m) => ItemStanding::Seat {
            admin: Role::parse(&m.role) == Some(Role::Admin),
            creator: item.created_by.as_deref() == Some(user_id),
        },
    })
}

/// May `user_id` do `action` to `item`?
pub async fn authorize_item(
    c: &mut Conn,
    user_id: &str,
    item: &store::items::ItemRow,
    action: ItemAction,
    what: &'static str,
) -> Result<ItemStanding> {
    let standing = item_standing(c, user_id, item).await?;
    decide_item(standing, action, what)?;
    Ok(standing)
}

/// May the actor put items into the team `slug` (create, share, import)?
/// Members holding a seat may; for others the team is not found, except
/// support-only members, who are told why.
pub async fn authorize_team_items(c: &mut Conn, actor: &Actor, slug: &str) -> Result<TeamRow> {
    let slug = plausible_slug(slug)?;
    let team = store::teams::by_slug(c, &slug)
        .await?
        .ok_or_else(team_not_found)?;
    match store::teams::member(c, &team.id, &actor.user_id).await? {
        None => Err(team_not_found()),
        Some(m) if m.support_only != 0 => Err(no_seat()),
        Some(_) => Ok(team),
    }
}

pub fn no_seat() -> Error {
    Error::forbidden(
        "no_seat",
        "your role in this team (admin or billing alone) holds no seat, so its collections and environments are not yours to see: an admin can give you the member role",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: Result<()>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    /// The whole table: every action for every standing.
    #[test]
    fn every_action_for_every_standing() {
        use TeamAction::*;
        for action in TeamAction::ALL {
            let outsider = status(decide(Standing::Outsider, action));
            let discoverer = status(decide(Standing::Discoverer, action));
            let member = status(decide(Standing::Member(Role::Member), action));
            let billing = status(decide(Standing::Member(Role::Billing), action));
            let admin = status(decide(Standing::Member(Role::Admin), action));
            let expected = match action {
                View | ListMembers | Leave => (404, 404, 200, 200, 200),
                RequestToJoin => (404, 200, 409, 409, 409),
                ManageBilling => (404, 404, 404, 200, 200),
                _ => (404, 404, 403, 403, 200),
            };
            assert_eq!(
                (outsider, discoverer, member, billing, admin),
                expected,
                "{action:?}"
            );
        }
    }

    /// The status and the error code, `""` when allowed.
    fn outcome(r: Result<()>) -> (u16, String) {
        match r {
            Ok(()) => (200, String::new()),
            Err(e) => (e.status().as_u16(), e.body().error.code),
        }
    }

    /// Role changes by the target's standing: (myself, from, to, admins).
    #[test]
    fn role_changes() {
        use Role::*;
        let cases = [
            (false, Member, Admin, 1, (200, "")),
            (false, Member, Billing, 1, (200, "")),
            (false, Billing, Member, 1, (200, "")),
            (false, Admin, Member, 2, (403, "cannot_demote_admin")),
            (false, Admin, Admin, 2, (403, "cannot_demote_admin")),
            (false, Admin, Billing, 3, (403, "cannot_demote_admin")),
            (true, Admin, Member, 2, (200, "")),
            (true, Admin, Billing, 2, (200, "")),
            (true, Admin, Member, 1, (409, "last_admin")),
            (true, Admin, Admin, 1, (200, "")),
            (true, Billing, Member, 1, (200, "")),
        ];
        for (myself, from, to, admins, expected) in cases {
            let target = Target {
                myself,
                role: from,
                admins,
            };
            let (status, code) = outcome(decide_role_change(target, to));
            assert_eq!((status, code.as_str()), expected, "{target:?} to {to:?}");
        }
    }

    /// Removals by the target's standing: (myself, role, admins).
    #[test]
    fn removals() {
        use Role::*;
        let cases = [
            (false, Member, 1, (200, "")),
            (false, Billing, 1, (200, "")),
            (true, Member, 1, (200, "")),
            (false, Admin, 2, (200, "")),
            (false, Admin, 3, (200, "")),
            (true, Admin, 2, (200, "")),
            (true, Admin, 1, (409, "last_admin")),
            (false, Admin, 1, (409, "last_admin")),
        ];
        for (myself, role, admins, expected) in cases {
            let target = Target {
                myself,
                role,
                admins,
            };
            let (status, code) = outcome(decide_removal(target));
            assert_eq!((status, code.as_str()), expected, "{target:?}");
        }
    }

    #[test]
    fn email_invites_are_for_their_address() {
        let cases = [
            (None, "ada@example.com", 200),
            (Some("ada@example.com"), "Ada@Example.com", 200),
            (Some("ada@example.com"), "bob@example.com", 403),
            (Some("ada@example.com"), "ada@example.org", 403),
        ];
        for (invite, account, expected) in cases {
            let (status, code) = outcome(decide_invite_acceptance(invite, account));
            assert_eq!(status, expected, "{invite:?} for {account}");
            if status == 403 {
                assert_eq!(code, "invite_for_another_address");
            }
        }
    }

    /// The whole item table: every action for every standing.
    #[test]
    fn every_item_action_for_every_standing() {
        let standings = [
            ItemStanding::Owner,
            ItemStanding::Seat {
                admin: false,
                creator: false,
            },
            ItemStanding::Seat {
                admin: false,
                creator: true,
            },
            ItemStanding::Seat {
                admin: true,
                creator: false,
            },
            ItemStanding::SupportOnly,
            ItemStanding::Outsider,
        ];
        for action in ItemAction::ALL {
            let got: Vec<u16> = standings
                .iter()
                .map(|s| status(decide_item(*s, action, "collection")))
                .collect();
            let expected = match action {
                ItemAction::Read | ItemAction::Write => [200, 200, 200, 200, 404, 404],
                ItemAction::Remove => [200, 403, 200, 200, 404, 404],
            };
            assert_eq!(got, expected, "{action:?}");
        }
    }

    #[test]
    fn outsiders_get_the_same_answer_as_for_a_missing_team() {
        for action in TeamAction::ALL {
            if let Err(e) = decide(Standing::Outsider, action) {
                assert_eq!(e.body().error.code, team_not_found().body().error.code);
                assert_eq!(e.to_string(), team_not_found().to_string());
            }
        }
    }
}
