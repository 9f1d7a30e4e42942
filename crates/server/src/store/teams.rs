//! Teams, their members, invites, verified domains and join requests, and
//! the team audit log (read from the event stream). Writes that depend on the
//! seat count first take the team's row lock with [`lock`] /
//! [`lock_by_slug`], so concurrent invites, accepts and approvals count seats
//! one after another.

use sqlx::FromRow;

use super::{new_id, Conn, Tx};
use crate::clock::Millis;

#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub seats: i64,
    pub discoverable: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const TEAM_COLUMNS: &str =
    "id, name, slug, plan, seats, discoverable, created_by, created_at, updated_at";

pub struct NewTeam<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub plan: &'a str,
    pub seats: i64,
    pub created_by: &'a str,
}

pub async fn insert(c: &mut Tx, t: &NewTeam<'_>, now: Millis) -> Result<TeamRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO teams (id, name, slug, plan, seats, discoverable, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7) RETURNING {TEAM_COLUMNS}"
    ))
    .bind(new_id())
    .bind(t.name)
    .bind(t.slug)
    .bind(t.plan)
    .bind(t.seats)
    .bind(t.created_by)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn by_slug(c: &mut Conn, slug: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {TEAM_COLUMNS} FROM teams WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(c)
        .await
}

pub async fn by_id(c: &mut Conn, id: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(sql!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// Takes the team's row lock until the transaction ends and returns the
/// row. A no-op update locks on both backends: a row lock on PostgreSQL, and
/// on SQLite the transaction (`BEGIN IMMEDIATE`) already holds the write lock.
pub async fn lock_by_slug(c: &mut Tx, slug: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "UPDATE teams SET updated_at = updated_at WHERE slug = $1 RETURNING {TEAM_COLUMNS}"
    ))
    .bind(slug)
    .fetch_optional(c)
    .await
}

/// [`lock_by_slug`], by id.
pub async fn lock(c: &mut Tx, id: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "UPDATE teams SET updated_at = updated_at WHERE id = $1 RETURNING {TEAM_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn rename(c: &mut Tx, id: &str, name: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE teams SET name = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn set_discoverable(
    c: &mut Tx,
    id: &str,
    discoverable: bool,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE teams SET discoverable = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(discoverable as i64)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

/// A team together with one person's membership in it.
#[derive(Debug, Clone, FromRow)]
pub struct MyTeamRow {
    #[sqlx(flatten)]
    pub team: TeamRow,
    pub role: String,
    pub support_only: i64,
    pub joined_at: i64,
}

/// The teams `user_id` belongs to, by name.
pub async fn of_user(c: &mut Conn, user_id: &str) -> Result<Vec<MyTeamRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.name, t.slug, t.plan, t.seats, t.discoverable, t.created_by, t.created_at, t.updated_at, \
         m.role, m.support_only, m.created_at AS joined_at \
         FROM teams t JOIN team_members m ON m.team_id = t.id WHERE m.user_id = $1 ORDER BY t.name, t.slug",
    )
    .bind(user_id)
    .fetch_all(c)
    .await
}

/// What a team's seats are used by, right now.
#[derive(Debug, Clone, Copy, FromRow, PartialEq, Eq)]
pub struct SeatCounts {
    /// Members holding a paid seat.
    pub members: i64,
    /// Pending invites that have not expired.
    pub pending_invites: i64,
    /// Members holding only a support role (no seat).
    pub support_only: i64,
}

pub async fn seat_counts(
    c: &mut Conn,
    team_id: &str,
    now: Millis,
) -> Result<SeatCounts, sqlx::Error> {
    sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND support_only = 0) AS members, \
         (SELECT COUNT(*) FROM team_invites WHERE team_id = $1 AND status = 'pending' AND expires_at > $2) AS pending_invites, \
         (SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND support_only <> 0) AS support_only",
    )
    .bind(team_id)
    .bind(now)
    .fetch_one(c)
    .await
}

// Members.

#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub team_id: String,
    pub user_id: String,
    pub role: String,
    pub support_only: i64,
    pub created_at: i64,
}

const MEMBER_COLUMNS: &str = "team_id, user_id, role, support_only, created_at";

/// The public fields of a person, as their team sees them.
#[derive(Debug, Clone, FromRow)]
pub struct PersonRow {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: String,
    pub avatar_version: Option<i64>,
}

/// A member with their public fields.
#[derive(Debug, Clone, FromRow)]
pub struct MemberPersonRow {
    pub role: String,
    pub support_only: i64,
    pub created_at: i64,
    #[sqlx(flatten)]
    pub person: PersonRow,
}

const MEMBER_PERSON_SELECT: &str =
    "SELECT m.role, m.support_only, m.created_at, u.id AS user_id, u.username, u.display_name, u.email, u.avatar_version \
     FROM team_members m JOIN users u ON u.id = m.user_id";

pub async fn member(
    c: &mut Conn,
    team_id: &str,
    user_id: &str,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {MEMBER_COLUMNS} FROM team_members WHERE team_id = $1 AND user_id = $2"
    ))
    .bind(team_id)
    .bind(user_id)
    .fetch_optional(c)
    .await
}

/// Adds a member; breaks `team_members_team_id_user_id` when they already are one.
pub async fn insert_member(
    c: &mut Tx,
    team_id: &str,
    user_id: &str,
    role: &str,
    support_only: bool,
    now: Millis,
) -> Result<MemberRow, sqlx::Error> {
    // Their access to the team's items changes: live sockets look again.
    c.changed(user_id);
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO team_members (team_id, user_id, role, support_only, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {MEMBER_COLUMNS}"
    ))
    .bind(team_id)
    .bind(user_id)
    .bind(role)
    .bind(support_only as i64)
    .bind(now)
    .fetch_one(c)
    .await
}

/// Every member with their public fields: admins first, then by username.
pub async fn members(c: &mut Conn, team_id: &str) -> Result<Vec<MemberPersonRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "{MEMBER_PERSON_SELECT} WHERE m.team_id = $1 \
         ORDER BY CASE m.role WHEN 'admin' THEN 0 WHEN 'billing' THEN 1 ELSE 2 END, u.username_key"
    ))
    .bind(team_id)
    .fetch_all(c)
    .await
}

pub async fn member_person(
    c: &mut Conn,
    team_id: &str,
    user_id: &str,
) -> Result<Option<MemberPersonRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "{MEMBER_PERSON_SELECT} WHERE m.team_id = $1 AND m.user_id = $2"
    ))
    .bind(team_id)
    .bind(user_id)
    .fetch_optional(c)
    .await
}

pub async fn set_role(
    c: &mut Tx,
    team_id: &str,
    user_id: &str,
    role: &str,
    support_only: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    // Their access to the team's items changes: live sockets look again.
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE team_members SET role = $3, support_only = $4, updated_at = $5 WHERE team_id = $1 AND user_id = $2",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(role)
    .bind(support_only as i64)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_member(c: &mut Tx, team_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    // Their access to the team's items changes: live sockets look again.
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes a team with its members, invites, domains and join requests
/// (their rows cascade).
pub async fn delete(c: &mut Tx, team_id: &str) -> Result<bool, sqlx::Error> {
    let members: Vec<(String,)> =
        sqlx::query_as("SELECT user_id FROM team_members WHERE team_id = $1")
            .bind(team_id)
            .fetch_all(&mut **c)
            .await?;
    for (user_id,) in &members {
        c.changed(user_id);
    }
    let c: &mut Conn = c;
    // The identities of its single sign-on sign in nowhere any more.
    sqlx::query("DELETE FROM oidc_identities WHERE provider = $1")
        .bind(format!("team:{team_id}"))
        .execute(&mut *c)
        .await?;
    let r = sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(team_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn count_admins(c: &mut Conn, team_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND role = 'admin'")
            .bind(team_id)
            .fetch_one(c)
            .await?;
    Ok(n)
}

// Invites.

#[derive(Debug, Clone, FromRow)]
pub struct InviteRow {
    pub id: String,
    pub team_id: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub status: String,
    pub created_by: Option<String>,
    /// The inviter's current username, when the account still exists.
    pub created_by_username: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
    pub decided_at: Option<i64>,
}

const INVITE_SELECT: &str =
    "SELECT i.id, i.team_id, i.email, i.email_key, i.status, i.created_by, u.username AS created_by_username, \
     i.created_at, i.expires_at, i.accepted_by, i.decided_at \
     FROM team_invites i LEFT JOIN users u ON u.id = i.created_by";

pub struct NewInvite<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub email: Option<&'a str>,
    pub email_key: Option<&'a str>,
    pub token_hash: &'a str,
    pub created_by: &'a str,
    pub expires_at: Millis,
}

pub async fn insert_invite(
    c: &mut Tx,
    i: &NewInvite<'_>,
    now: Millis,
) -> Result<InviteRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO team_invites (id, team_id, email, email_key, token_hash, status, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
    )
    .bind(i.id)
    .bind(i.team_id)
    .bind(i.email)
    .bind(i.email_key)
    .bind(i.token_hash)
    .bind(i.created_by)
    .bind(now)
    .bind(i.expires_at)
    .execute(&mut *c)
    .await?;
    sqlx::query_as(sql!("{INVITE_SELECT} WHERE i.id = $1"))
        .bind(i.id)
        .fetch_one(c)
        .await
}

/// Pending invites that have not expired, oldest first.
pub async fn pending_invites(
    c: &mut Conn,
    team_id: &str,
    now: Millis,
) -> Result<Vec<InviteRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "{INVITE_SELECT} WHERE i.team_id = $1 AND i.status = 'pending' AND i.expires_at > $2 ORDER BY i.id"
    ))
    .bind(team_id)
    .bind(now)
    .fetch_all(c)
    .await
}

pub async fn invite(
    c: &mut Conn,
    team_id: &str,
    id: &str,
) -> Result<Option<InviteRow>, sqlx::Error> {
    sqlx::query_as(sql!("{INVITE_SELECT} WHERE i.team_id = $1 AND i.id = $2"))
        .bind(team_id)
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn invite_by_token_hash(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<InviteRow>, sqlx::Error> {
    sqlx::query_as(sql!("{INVITE_SELECT} WHERE i.token_hash = $1"))
        .bind(token_hash)
        .fetch_optional(c)
        .await
}

/// Whether a live invite to this address is waiting in the team.
pub async fn has_pending_invite_for(
    c: &mut Conn,
    team_id: &str,
    email_key: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM team_invites WHERE team_id = $1 AND email_key = $2 AND status = 'pending' AND expires_at > $3",
    )
    .bind(team_id)
    .bind(email_key)
    .bind(now)
    .fetch_one(c)
    .await?;
    Ok(n > 0)
}

/// Cancels a pending invite; false when it was not pending.
pub async fn cancel_invite(c: &mut Tx, id: &str, now: Millis) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE team_invites SET status = 'cancelled', decided_at = $2 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Uses up a pending, live invite; false when it was not. The update is the
/// check, so two people accepting one link cannot both get in.
pub async fn accept_invite(
    c: &mut Tx,
    id: &str,
    user_id: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE team_invites SET status = 'accepted', accepted_by = $2, decided_at = $3 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

// Domains.

#[derive(Debug, Clone, FromRow)]
pub struct DomainRow {
    pub team_id: String,
    pub domain: String,
    pub txt_token: String,
    pub verified_at: Option<i64>,
    pub verified_by: Option<String>,
    pub created_at: i64,
}

const DOMAIN_COLUMNS: &str = "team_id, domain, txt_token, verified_at, verified_by, created_at";

/// Adds a domain to verify; breaks `team_domains_team_id_domain` when the
/// team already has it.
pub async fn insert_domain(
    c: &mut Tx,
    team_id: &str,
    domain: &str,
    txt_token: &str,
    now: Millis,
) -> Result<DomainRow, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "INSERT INTO team_domains (team_id, domain, txt_token, created_at) VALUES ($1, $2, $3, $4) RETURNING {DOMAIN_COLUMNS}"
    ))
    .bind(team_id)
    .bind(domain)
    .bind(txt_token)
    .bind(now)
    .fetch_one(c)
    .await
}

pub async fn domains(c: &mut Conn, team_id: &str) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {DOMAIN_COLUMNS} FROM team_domains WHERE team_id = $1 ORDER BY domain"
    ))
    .bind(team_id)
    .fetch_all(c)
    .await
}

pub async fn domain(
    c: &mut Conn,
    team_id: &str,
    domain: &str,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "SELECT {DOMAIN_COLUMNS} FROM team_domains WHERE team_id = $1 AND domain = $2"
    ))
    .bind(team_id)
    .bind(domain)
    .fetch_optional(c)
    .await
}

/// Marks a domain verified (`verified_by`: `dns` or `operator`); breaks
/// `team_domains_domain` when another team verified it first.
pub async fn mark_domain_verified(
    c: &mut Tx,
    team_id: &str,
    domain: &str,
    verified_by: &str,
    now: Millis,
) -> Result<Option<DomainRow>, sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query_as(sql!(
        "UPDATE team_domains SET verified_at = $3, verified_by = $4 WHERE team_id = $1 AND domain = $2 \
         RETURNING {DOMAIN_COLUMNS}"
    ))
    .bind(team_id)
    .bind(domain)
    .bind(now)
    .bind(verified_by)
    .fetch_optional(c)
    .await
}

pub async fn delete_domain(c: &mut Tx, team_id: &str, domain: &str) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query("DELETE FROM team_domains WHERE team_id = $1 AND domain = $2")
        .bind(team_id)
        .bind(domain)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn count_domains(c: &mut Conn, team_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM team_domains WHERE team_id = $1")
        .bind(team_id)
        .fetch_one(c)
        .await?;
    Ok(n)
}

pub async fn count_verified_domains(c: &mut Conn, team_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM team_domains WHERE team_id = $1 AND verified_at IS NOT NULL",
    )
    .bind(team_id)
    .fetch_one(c)
    .await?;
    Ok(n)
}

/// Whether the team lists itself to people whose email is in `email_domain`:
/// discovery is on and the domain is verified by the team.
pub async fn is_discoverable_by(
    c: &mut Conn,
    team_id: &str,
    email_domain: &str,
) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM teams t JOIN team_domains d ON d.team_id = t.id \
         WHERE t.id = $1 AND t.discoverable <> 0 AND d.domain = $2 AND d.verified_at IS NOT NULL",
    )
    .bind(team_id)
    .bind(email_domain)
    .fetch_one(c)
    .await?;
    Ok(n > 0)
}

#[derive(Debug, Clone, FromRow)]
pub struct DiscoverableRow {
    pub name: String,
    pub slug: String,
    pub members: i64,
    pub pending_requests: i64,
}

/// Teams listed to `user_id`, whose email is in `email_domain`: discovery
/// on, the domain verified, and not already a member.
pub async fn discoverable_by(
    c: &mut Conn,
    user_id: &str,
    email_domain: &str,
) -> Result<Vec<DiscoverableRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.name, t.slug, \
         (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members, \
         (SELECT COUNT(*) FROM team_join_requests r WHERE r.team_id = t.id AND r.user_id = $1 AND r.status = 'pending') AS pending_requests \
         FROM teams t JOIN team_domains d ON d.team_id = t.id \
         WHERE t.discoverable <> 0 AND d.domain = $2 AND d.verified_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = t.id AND m.user_id = $1) \
         ORDER BY t.name, t.slug",
    )
    .bind(user_id)
    .bind(email_domain)
    .fetch_all(c)
    .await
}

// Join requests.

#[derive(Debug, Clone, FromRow)]
pub struct JoinRequestRow {
    pub id: String,
    pub team_id: String,
    pub status: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    #[sqlx(flatten)]
    pub person: PersonRow,
}

const JOIN_REQUEST_SELECT: &str = "SELECT r.id, r.team_id, r.status, r.created_at, r.decided_at, \
     u.id AS user_id, u.username, u.display_name, u.email, u.avatar_version \
     FROM team_join_requests r JOIN users u ON u.id = r.user_id";

/// Records a pending request; breaks `team_join_requests_team_id_user_id`
/// when one is already pending.
pub async fn insert_join_request(
    c: &mut Tx,
    team_id: &str,
    user_id: &str,
    now: Millis,
) -> Result<JoinRequestRow, sqlx::Error> {
    let c: &mut Conn = c;
    let id = new_id();
    sqlx::query(
        "INSERT INTO team_join_requests (id, team_id, user_id, status, created_at) VALUES ($1, $2, $3, 'pending', $4)",
    )
    .bind(&id)
    .bind(team_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query_as(sql!("{JOIN_REQUEST_SELECT} WHERE r.id = $1"))
        .bind(&id)
        .fetch_one(c)
        .await
}

/// Pending requests, oldest first.
pub async fn pending_join_requests(
    c: &mut Conn,
    team_id: &str,
) -> Result<Vec<JoinRequestRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "{JOIN_REQUEST_SELECT} WHERE r.team_id = $1 AND r.status = 'pending' ORDER BY r.id"
    ))
    .bind(team_id)
    .fetch_all(c)
    .await
}

/// How many requests to join the team wait for a decision.
pub async fn count_pending_join_requests(c: &mut Conn, team_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM team_join_requests WHERE team_id = $1 AND status = 'pending'",
    )
    .bind(team_id)
    .fetch_one(c)
    .await?;
    Ok(n)
}

pub async fn join_request(
    c: &mut Conn,
    team_id: &str,
    id: &str,
) -> Result<Option<JoinRequestRow>, sqlx::Error> {
    sqlx::query_as(sql!(
        "{JOIN_REQUEST_SELECT} WHERE r.team_id = $1 AND r.id = $2"
    ))
    .bind(team_id)
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Decides a pending request (`approved` or `declined`); false when it was
/// not pending.
pub async fn decide_join_request(
    c: &mut Tx,
    id: &str,
    status: &str,
    decided_by: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE team_join_requests SET status = $2, decided_by = $3, decided_at = $4 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status)
    .bind(decided_by)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Closes a person's pending request once they joined another way.
pub async fn withdraw_join_requests(
    c: &mut Tx,
    team_id: &str,
    user_id: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE team_join_requests SET status = 'withdrawn', decided_at = $3 \
         WHERE team_id = $1 AND user_id = $2 AND status = 'pending'",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected())
}

// The audit log.

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub kind: String,
    pub actor_id: Option<String>,
    pub actor_username: Option<String>,
    pub data: String,
    pub created_at: i64,
}

/// A page of a scope's events, newest first, older than `before` (a
/// sequence number), with the actors' usernames.
pub async fn audit_page(
    c: &mut Conn,
    scope: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.seq, e.kind, e.actor_id, u.username AS actor_username, e.data, e.created_at \
         FROM events e LEFT JOIN users u ON u.id = e.actor_id \
         WHERE e.scope = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3",
    )
    .bind(scope)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(c)
    .await
}
