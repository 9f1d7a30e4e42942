//! Members and roles (T2, T5, T6): the member list, removing and leaving,
//! role changes, and leaving every team when an account is deleted.

use postroom_core::api;
use postroom_core::{Role, TeamEvent};
use serde_json::json;

use super::seats::{has_free_seat, no_seats, seat_usage, MAX_SUPPORT_ONLY};
use super::views::member_view;
use super::{load_user, plausible_id, record, role_of, scope};
use crate::clock::Millis;
use crate::domain::actor::Actor;
use crate::domain::policy::{self, Target, TeamAction};
use crate::error::{Error, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, users::UserRow, Tx};

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

/// Removes a member (admins, another admin included), or leaves (anyone,
/// for themselves); the last admin cannot leave. An admin removed by
/// another admin is told by mail, queued in the same transaction: it is the
/// one removal that takes powers a person held alongside the one removing
/// them.
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
    let role = role_of(&target.role);
    policy::decide_removal(Target {
        myself: leaving,
        role,
        admins: store::teams::count_admins(&mut tx, &team.id).await?,
    })?;
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
    if role == Role::Admin && !leaving {
        let admin = load_user(&mut tx, &actor.user_id).await?;
        app.mailer
            .queue(
                &mut tx,
                &target.person.email,
                Template::TeamRemoved,
                json!({
                    "username": target.person.username,
                    "admin": admin.username,
                    "team_name": team.name,
                }),
                now,
            )
            .await?;
    }
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
    app: &App,
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
            crate::domain::billing::close_for_deletion(app, tx, team, now).await?;
            store::teams::delete(tx, &team.id).await?;
            store::events::delete_scope(tx, &scope(&team.id)).await?;
            store::events::delete_scope(tx, &crate::domain::workspace::team_scope(&team.id))
                .await?;
            continue;
        }
        let target = Target {
            myself: true,
            role: role_of(&membership.role),
            admins: store::teams::count_admins(tx, &team.id).await?,
        };
        if target.is_last_admin() {
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
    policy::decide_role_change(
        Target {
            myself: user_id == actor.user_id,
            role: from,
            admins: store::teams::count_admins(&mut tx, &team.id).await?,
        },
        req.role,
    )?;
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
