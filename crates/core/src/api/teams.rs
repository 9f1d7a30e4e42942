//! The JSON shapes of `/api/v1/teams`, `/api/v1/invites` and
//! `/api/v1/discoverable-teams` (T1-T6, T8, T9, A3).

use serde::{Deserialize, Serialize};

use crate::teams::Role;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateTeamRequest {
    pub name: String,
    /// The team's URL name: 3-39 characters a-z, 0-9 and single hyphens.
    pub slug: String,
}

/// Fields of `PATCH /api/v1/teams/{team}`; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRequest {
    #[serde(default)]
    pub name: Option<String>,
}

/// The caller's own place in a team.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamMembership {
    pub role: Role,
    /// Holds only a support role (admin or billing) and takes no paid seat.
    pub support_only: bool,
    pub joined_at: String,
}

/// How a team's seats are used: members holding a paid seat plus pending
/// invites never exceed `total`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SeatUsage {
    pub total: u32,
    /// Members holding a paid seat (everyone but support-only members).
    pub members: u32,
    /// Invites that are pending and not expired; each holds a seat.
    pub pending_invites: u32,
    /// Seats left for new invites and join requests.
    pub available: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Team {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// The plan the team is on: `free`, `pro`, `business` or `enterprise`.
    pub plan: String,
    pub seats: SeatUsage,
    /// Listed to people whose verified email has one of the team's verified domains.
    pub discoverable: bool,
    pub membership: TeamMembership,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamEnvelope {
    pub team: Team,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamList {
    pub teams: Vec<Team>,
}

/// A person as other members of their team see them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamUser {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Member {
    pub user: TeamUser,
    pub role: Role,
    pub support_only: bool,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberEnvelope {
    pub member: Member,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberList {
    pub members: Vec<Member>,
    pub seats: SeatUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetRoleRequest {
    pub role: Role,
    /// Hold only this support role, without a paid seat (admin and billing
    /// only; at most 2 per team). Defaults to false.
    #[serde(default)]
    pub support_only: bool,
}

/// `{"email": "..."}` invites by email (a mail with the link is sent);
/// `{"email": null}` or `{}` makes a link-only invite to copy and share.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateInviteRequest {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    Pending,
    Accepted,
    Cancelled,
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Invite {
    pub id: String,
    /// The invited address; absent for a link invite.
    pub email: Option<String>,
    pub status: InviteStatus,
    /// The link that accepts the invite; only while it is pending.
    pub link: Option<String>,
    /// The token in the link, for `POST /api/v1/invites/{token}/accept`.
    pub token: Option<String>,
    /// The username of the admin who invited.
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InviteEnvelope {
    pub invite: Invite,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InviteList {
    pub invites: Vec<Invite>,
}

/// What the holder of an invite link may see before accepting it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvitePreview {
    pub team_name: String,
    pub team_slug: String,
    /// The invited address; absent for a link invite.
    pub email: Option<String>,
    pub invited_by: Option<String>,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvitePreviewEnvelope {
    pub invite: InvitePreview,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddDomainRequest {
    pub domain: String,
}

/// An email domain of a team. It is proved by publishing a DNS TXT record
/// named `txt_name` with the value `txt_value`, then asking to verify.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamDomain {
    pub domain: String,
    pub verified: bool,
    pub verified_at: Option<String>,
    pub txt_name: String,
    pub txt_value: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamDomainEnvelope {
    pub domain: TeamDomain,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamDomainList {
    pub domains: Vec<TeamDomain>,
}

/// A team's single sign-on (A7): its own OpenID provider, for the people
/// whose confirmed address is at one of its verified domains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamSso {
    /// Whether the team's plan offers single sign-on (Business, Enterprise).
    pub available: bool,
    /// Set up: `issuer` and `client_id` are set (the secret is never shown).
    pub configured: bool,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// The callback URL to register with the provider.
    pub redirect_uri: String,
    /// Where the team's people start signing in.
    pub sign_in_url: String,
    /// When an admin last completed a sign-in through this setup.
    pub tested_at: Option<String>,
    pub enforced: bool,
    /// The verified domains it covers.
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamSsoEnvelope {
    pub sso: TeamSso,
}

/// Sets single sign-on up, or replaces its setup (which must then be
/// tested again before it is enforced).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PutTeamSsoRequest {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetSsoEnforcedRequest {
    pub enforced: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetDiscoveryRequest {
    pub enabled: bool,
}

/// A team listed to the caller because its verified domain matches their
/// verified email address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DiscoverableTeam {
    pub name: String,
    pub slug: String,
    pub members: u32,
    /// The caller already asked to join and waits for an admin.
    pub join_request_pending: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DiscoverableTeamList {
    pub teams: Vec<DiscoverableTeam>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JoinRequestStatus {
    Pending,
    Approved,
    Declined,
    Withdrawn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JoinRequest {
    pub id: String,
    pub team_slug: String,
    pub user: TeamUser,
    pub status: JoinRequestStatus,
    pub created_at: String,
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JoinRequestEnvelope {
    pub join_request: JoinRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JoinRequestList {
    pub join_requests: Vec<JoinRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditActor {
    pub id: String,
    /// Absent when the account no longer exists.
    pub username: Option<String>,
}

/// One event of a team's audit log (T9).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntry {
    /// The event's number in the team's stream; later events have higher numbers.
    pub seq: i64,
    /// `created`, `renamed`, `invited`, `invite_cancelled`, `joined`, `removed`,
    /// `role_changed`, `discovery_changed`, `domain_added`, `domain_verified`,
    /// `domain_removed`, `join_requested`, `join_approved`, `join_declined`.
    pub kind: String,
    /// Who did it; absent for the operator's command line.
    pub actor: Option<AuditActor>,
    /// The event in one sentence, for people.
    pub summary: String,
    /// The event's details, as recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditLogPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}
