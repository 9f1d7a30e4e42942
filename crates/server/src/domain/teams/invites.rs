//! Invites (T3, T4): by email (a mail with the link is queued) or by link.
//! Each pending invite holds a seat until it is accepted, cancelled or
//! expires.
//!
//! Invite tokens are derived from the invite's id with a server-held key
//! (HMAC), and only their hash is stored, so an admin can copy a pending
//! invite's link again while the database never holds it.

use hmac::{Hmac, KeyInit, Mac};
use postroom_core::api;
use postroom_core::{Email, JoinedVia, Role, TeamEvent};
use serde_json::json;
use sha2::Sha256;

use super::seats::{has_free_seat, no_seats};
use super::views::team_view;
use super::{email_not_verified, load_user, plausible_id, record};
use crate::clock::{rfc3339, Millis, DAY, HOUR};
use crate::domain::actor::Actor;
use crate::domain::limits::{self, Check, Rule};
use crate::domain::policy::{self, TeamAction};
use crate::domain::tokens;
use crate::error::{Error, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::{self, teams::InviteRow, Conn};

/// How long an invite stays valid.
pub const INVITE_TTL: Millis = 7 * DAY;

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
    policy::decide_invite_acceptance(invite.email_key.as_deref(), &user.email)?;
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
