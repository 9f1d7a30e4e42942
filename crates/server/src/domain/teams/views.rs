//! Team rows turned into the API's wire types. An invite's view (which
//! carries its link) and a domain's (which names its TXT record) live with
//! the invites and the domains, which own those.

use postroom_core::api;

use super::role_of;
use super::seats::seat_usage;
use crate::clock::rfc3339;
use crate::domain::policy::{self, Access};
use crate::domain::{plans, views};
use crate::error::Result;
use crate::state::App;
use crate::store::{
    self,
    teams::{JoinRequestRow, MemberPersonRow, PersonRow, TeamRow},
    Conn,
};

pub(super) async fn team_view(
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

pub(super) async fn access_view(app: &App, c: &mut Conn, access: &Access) -> Result<api::Team> {
    let m = access.member.as_ref().ok_or_else(policy::team_not_found)?;
    team_view(app, c, &access.team, &m.role, m.support_only, m.created_at).await
}

pub(super) fn person_view(app: &App, p: &PersonRow) -> api::TeamUser {
    api::TeamUser {
        id: p.user_id.clone(),
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone(),
        avatar_url: views::avatar_url_of(app, &p.user_id, p.avatar_version),
    }
}

pub(super) fn member_view(app: &App, m: &MemberPersonRow) -> api::Member {
    api::Member {
        user: person_view(app, &m.person),
        role: role_of(&m.role),
        support_only: m.support_only != 0,
        joined_at: rfc3339(m.created_at),
    }
}

pub(super) fn join_request_view(app: &App, team: &TeamRow, r: &JoinRequestRow) -> api::JoinRequest {
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
