//! `/api/v1/teams`, `/api/v1/invites` and `/api/v1/discoverable-teams`:
//! teams, members and roles, invites, domains and discovery, join requests
//! and the audit log. Who may do what is decided in `domain::policy`; a team
//! the caller may not see answers 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use postroom_core::api::{
    AddDomainRequest, AuditLogPage, CreateInviteRequest, CreateTeamRequest, DiscoverableTeamList,
    ErrorBody, InviteEnvelope, InviteList, InvitePreviewEnvelope, JoinRequestEnvelope,
    JoinRequestList, MemberEnvelope, MemberList, PutTeamSsoRequest, SetDiscoveryRequest,
    SetRoleRequest, SetSsoEnforcedRequest, TeamDomainEnvelope, TeamDomainList, TeamEnvelope,
    TeamList, TeamSsoEnvelope, UpdateTeamRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::teams;
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_mine, create))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(list_members))
        .routes(routes!(remove_member))
        .routes(routes!(set_role))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(cancel_invite))
        .routes(routes!(preview_invite))
        .routes(routes!(accept_invite))
        .routes(routes!(list_domains, add_domain))
        .routes(routes!(remove_domain))
        .routes(routes!(verify_domain))
        .routes(routes!(set_discovery))
        .routes(routes!(discoverable))
        .routes(routes!(list_join_requests, request_to_join))
        .routes(routes!(approve_join_request))
        .routes(routes!(decline_join_request))
        .routes(routes!(audit_log))
        .routes(routes!(get_sso, put_sso, delete_sso))
        .routes(routes!(set_sso_enforced))
}

/// The team's single sign-on (A7): its provider (never the secret), whether
/// it was tested and is enforced, and the callback URL to register (admins).
#[utoipa::path(get, path = "/api/v1/teams/{team}/sso", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamSsoEnvelope), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody)))]
async fn get_sso(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<TeamSsoEnvelope>> {
    let sso = teams::sso::get(&app, &actor, &team).await?;
    Ok(Json(TeamSsoEnvelope { sso }))
}

/// Set single sign-on up, or replace its setup, which must then be tested
/// again (admins; Business and Enterprise plans; a verified domain first).
/// The client secret is sealed at rest. Testing is a sign-in through the
/// provider in the browser, from the team's settings page.
#[utoipa::path(put, path = "/api/v1/teams/{team}/sso", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = PutTeamSsoRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamSsoEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required or plan_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "domain_not_verified"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn put_sso(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<PutTeamSsoRequest>,
) -> Result<Json<TeamSsoEnvelope>> {
    let sso = teams::sso::put(&app, &actor, &team, &req).await?;
    Ok(Json(TeamSsoEnvelope { sso }))
}

/// Remove single sign-on (admins); people sign in as before.
#[utoipa::path(delete, path = "/api/v1/teams/{team}/sso", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "admin_required"),
        (status = 404, body = ErrorBody)))]
async fn delete_sso(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<StatusCode> {
    teams::sso::remove(&app, &actor, &team).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Require single sign-on for the team's verified domains, or stop
/// (admins; only a tested setup is enforced). While enforced, password
/// sign-in for those addresses answers 403 `sso_required`.
#[utoipa::path(put, path = "/api/v1/teams/{team}/sso/enforced", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = SetSsoEnforcedRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamSsoEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required or plan_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "sso_not_tested"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_sso_enforced(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<SetSsoEnforcedRequest>,
) -> Result<Json<TeamSsoEnvelope>> {
    let sso = teams::sso::set_enforced(&app, &actor, &team, req.enforced).await?;
    Ok(Json(TeamSsoEnvelope { sso }))
}

/// The teams I belong to, with my role in each.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = TeamList), (status = 401, body = ErrorBody)))]
async fn list_mine(State(app): State<App>, Auth(actor): Auth) -> Result<Json<TeamList>> {
    Ok(Json(teams::list_mine(&app, &actor).await?))
}

/// Create a team; I become its first admin. Needs a verified email address.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = CreateTeamRequest,
    responses((status = 201, body = TeamEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "email_not_verified"), (status = 409, body = ErrorBody, description = "slug_taken"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "validation_failed")))]
async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<CreateTeamRequest>,
) -> Result<(StatusCode, Json<TeamEnvelope>)> {
    let team = teams::create(&app, &actor, &req).await?;
    Ok((StatusCode::CREATED, Json(TeamEnvelope { team })))
}

/// A team I belong to, by its slug.
#[utoipa::path(get, path = "/api/v1/teams/{team}", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamEnvelope), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such team, or not a member")))]
async fn get_team(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<TeamEnvelope>> {
    let team = teams::get(&app, &actor, &team).await?;
    Ok(Json(TeamEnvelope { team }))
}

/// Rename a team (admins).
#[utoipa::path(patch, path = "/api/v1/teams/{team}", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = UpdateTeamRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_team(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<UpdateTeamRequest>,
) -> Result<Json<TeamEnvelope>> {
    let team = teams::update(&app, &actor, &team, &req).await?;
    Ok(Json(TeamEnvelope { team }))
}

/// Delete a team (admins): its members, invites, domains, join requests and audit log go with
/// it, and the other members are told by mail.
#[utoipa::path(delete, path = "/api/v1/teams/{team}", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 204, description = "The team was deleted"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody)))]
async fn delete_team(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<StatusCode> {
    teams::delete(&app, &actor, &team).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The members of a team with their roles, and how its seats are used.
#[utoipa::path(get, path = "/api/v1/teams/{team}/members", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = MemberList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<MemberList>> {
    Ok(Json(teams::members(&app, &actor, &team).await?))
}

/// Remove a member (admins; another admin too, who is told by mail), or leave the team (my own
/// id). Their access ends at once; the last admin cannot go.
#[utoipa::path(delete, path = "/api/v1/teams/{team}/members/{user}", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("user" = String, Path, description = "The member's user id")),
    responses((status = 204), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "last_admin")))]
async fn remove_member(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    teams::remove_member(&app, &actor, &team, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a member's role (admins; an admin may step down).
#[utoipa::path(put, path = "/api/v1/teams/{team}/members/{user}/role", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = SetRoleRequest,
    params(("team" = String, Path, description = "The team's slug"), ("user" = String, Path, description = "The member's user id")),
    responses((status = 200, body = MemberEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required or cannot_demote_admin"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "last_admin, no_seats_available or too_many_support_roles"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_role(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, user)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> Result<Json<MemberEnvelope>> {
    let member = teams::set_role(&app, &actor, &team, &user, &req).await?;
    Ok(Json(MemberEnvelope { member }))
}

/// Pending invites, each with its link (admins).
#[utoipa::path(get, path = "/api/v1/teams/{team}/invites", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = InviteList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody)))]
async fn list_invites(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<InviteList>> {
    Ok(Json(teams::invites(&app, &actor, &team).await?))
}

/// Invite someone by email (a mail with the link is sent), or with
/// `{"email": null}` make a link to share. Each pending invite holds a seat.
#[utoipa::path(post, path = "/api/v1/teams/{team}/invites", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = CreateInviteRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 201, body = InviteEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required or email_not_verified"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no_seats_available, already_a_member or already_invited"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_invite(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<CreateInviteRequest>,
) -> Result<(StatusCode, Json<InviteEnvelope>)> {
    let invite = teams::invite(&app, &actor, &team, &req).await?;
    Ok((StatusCode::CREATED, Json(InviteEnvelope { invite })))
}

/// Cancel a pending invite (admins): its link stops working at once.
#[utoipa::path(delete, path = "/api/v1/teams/{team}/invites/{invite}", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("invite" = String, Path, description = "The invite's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "admin_required"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "invite_not_pending")))]
async fn cancel_invite(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, invite)): Path<(String, String)>,
) -> Result<StatusCode> {
    teams::cancel_invite(&app, &actor, &team, &invite).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invite link is for, before accepting it. The token is the credential.
#[utoipa::path(get, path = "/api/v1/invites/{token}", tag = "teams",
    params(("token" = String, Path, description = "The token from the invite link")),
    responses((status = 200, body = InvitePreviewEnvelope),
        (status = 400, body = ErrorBody, description = "invite_expired, invite_cancelled or invite_used"),
        (status = 404, body = ErrorBody)))]
async fn preview_invite(
    State(app): State<App>,
    Path(token): Path<String>,
) -> Result<Json<InvitePreviewEnvelope>> {
    let invite = teams::preview_invite(&app, &token).await?;
    Ok(Json(InvitePreviewEnvelope { invite }))
}

/// Accept an invite and join its team. An email invite needs the account with that address.
#[utoipa::path(post, path = "/api/v1/invites/{token}/accept", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("token" = String, Path, description = "The token from the invite link")),
    responses((status = 200, body = TeamEnvelope),
        (status = 400, body = ErrorBody, description = "invite_expired, invite_cancelled or invite_used"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "invite_for_another_address"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_a_member")))]
async fn accept_invite(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(token): Path<String>,
) -> Result<Json<TeamEnvelope>> {
    let team = teams::accept_invite(&app, &actor, &token).await?;
    Ok(Json(TeamEnvelope { team }))
}

/// The team's email domains and their verification records (admins).
#[utoipa::path(get, path = "/api/v1/teams/{team}/domains", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamDomainList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody)))]
async fn list_domains(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<TeamDomainList>> {
    Ok(Json(teams::domains(&app, &actor, &team).await?))
}

/// Add an email domain (admins); publish the TXT record it names, then verify.
#[utoipa::path(post, path = "/api/v1/teams/{team}/domains", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = AddDomainRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 201, body = TeamDomainEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "domain_already_added or too_many_domains"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_domain(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<AddDomainRequest>,
) -> Result<(StatusCode, Json<TeamDomainEnvelope>)> {
    let domain = teams::add_domain(&app, &actor, &team, &req).await?;
    Ok((StatusCode::CREATED, Json(TeamDomainEnvelope { domain })))
}

/// Remove an email domain (admins). Discovery turns off when no verified domain is left.
#[utoipa::path(delete, path = "/api/v1/teams/{team}/domains/{domain}", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("domain" = String, Path, description = "The domain, like example.com")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "admin_required"),
        (status = 404, body = ErrorBody)))]
async fn remove_domain(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, domain)): Path<(String, String)>,
) -> Result<StatusCode> {
    teams::remove_domain(&app, &actor, &team, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check the domain's DNS TXT record now and mark it verified when it is there (admins).
#[utoipa::path(post, path = "/api/v1/teams/{team}/domains/{domain}/verify", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("domain" = String, Path, description = "The domain, like example.com")),
    responses((status = 200, body = TeamDomainEnvelope), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "txt_record_not_found, dns_lookup_failed or domain_taken"),
        (status = 429, body = ErrorBody)))]
async fn verify_domain(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, domain)): Path<(String, String)>,
) -> Result<Json<TeamDomainEnvelope>> {
    let domain = teams::verify_domain(&app, &actor, &team, &domain).await?;
    Ok(Json(TeamDomainEnvelope { domain }))
}

/// Turn discovery on (needs a verified domain) or off (admins).
#[utoipa::path(patch, path = "/api/v1/teams/{team}/discovery", tag = "teams", security(("session" = []), ("api_key" = [])), request_body = SetDiscoveryRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = TeamEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no_verified_domain"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_discovery(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<SetDiscoveryRequest>,
) -> Result<Json<TeamEnvelope>> {
    let team = teams::set_discovery(&app, &actor, &team, &req).await?;
    Ok(Json(TeamEnvelope { team }))
}

/// Teams I may ask to join: their verified domain is my verified email's, and discovery is on.
#[utoipa::path(get, path = "/api/v1/discoverable-teams", tag = "teams", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = DiscoverableTeamList), (status = 401, body = ErrorBody)))]
async fn discoverable(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<DiscoverableTeamList>> {
    Ok(Json(teams::discoverable(&app, &actor).await?))
}

/// Pending requests to join (admins).
#[utoipa::path(get, path = "/api/v1/teams/{team}/join-requests", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = JoinRequestList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody)))]
async fn list_join_requests(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<JoinRequestList>> {
    Ok(Json(teams::join_requests(&app, &actor, &team).await?))
}

/// Ask to join a team that discovery lists to me.
#[utoipa::path(post, path = "/api/v1/teams/{team}/join-requests", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 201, body = JoinRequestEnvelope), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such team, or not discoverable to me"),
        (status = 409, body = ErrorBody, description = "already_a_member or join_request_pending")))]
async fn request_to_join(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<(StatusCode, Json<JoinRequestEnvelope>)> {
    let join_request = teams::request_to_join(&app, &actor, &team).await?;
    Ok((
        StatusCode::CREATED,
        Json(JoinRequestEnvelope { join_request }),
    ))
}

/// Approve a request to join (admins): the person joins in a free seat.
#[utoipa::path(post, path = "/api/v1/teams/{team}/join-requests/{request}/approve", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("request" = String, Path, description = "The join request's id")),
    responses((status = 200, body = MemberEnvelope), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no_seats_available, already_a_member or join_request_not_pending")))]
async fn approve_join_request(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, request)): Path<(String, String)>,
) -> Result<Json<MemberEnvelope>> {
    let member = teams::approve_join_request(&app, &actor, &team, &request).await?;
    Ok(Json(MemberEnvelope { member }))
}

/// Decline a request to join (admins).
#[utoipa::path(post, path = "/api/v1/teams/{team}/join-requests/{request}/decline", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("request" = String, Path, description = "The join request's id")),
    responses((status = 200, body = JoinRequestEnvelope), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "admin_required"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "join_request_not_pending")))]
async fn decline_join_request(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, request)): Path<(String, String)>,
) -> Result<Json<JoinRequestEnvelope>> {
    let join_request = teams::decline_join_request(&app, &actor, &team, &request).await?;
    Ok(Json(JoinRequestEnvelope { join_request }))
}

#[derive(Deserialize, IntoParams)]
struct AuditQuery {
    /// The `next_cursor` of the previous page.
    before: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
}

/// The team's audit log, newest first (admins).
#[utoipa::path(get, path = "/api/v1/teams/{team}/audit-log", tag = "teams", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), AuditQuery),
    responses((status = 200, body = AuditLogPage), (status = 400, body = ErrorBody, description = "invalid_cursor"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "admin_required"),
        (status = 404, body = ErrorBody)))]
async fn audit_log(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditLogPage>> {
    Ok(Json(
        teams::audit_log(&app, &actor, &team, q.before.as_deref(), q.limit).await?,
    ))
}
