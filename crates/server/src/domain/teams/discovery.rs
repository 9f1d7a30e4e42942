//! Domains and discovery (T8, A3): email domains verified by DNS (or by the
//! operator), discovery for people whose verified address is at one of
//! them, and their requests to join.

use postroom_core::api;
use postroom_core::{DomainName, JoinedVia, Role, TeamEvent};

use super::seats::{has_free_seat, no_seats};
use super::views::{access_view, join_request_view, member_view};
use super::{already_a_member, load_user, plausible_id, record};
use crate::clock::{rfc3339, Millis, MINUTE};
use crate::domain::actor::Actor;
use crate::domain::dns::LookupError;
use crate::domain::limits::{self, Check, Rule};
use crate::domain::policy::{self, TeamAction};
use crate::domain::tokens;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{
    self,
    teams::{DomainRow, JoinRequestRow, TeamRow},
    Conn, Tx,
};

/// Email domains a team may add.
pub const MAX_DOMAINS: i64 = 10;

/// The DNS name of a domain's verification record is `<this>.<domain>`.
pub const TXT_LABEL: &str = "_postroom-verification";

/// The verification record's value is `<this><token>`.
pub const TXT_VALUE_PREFIX: &str = "postroom-verification=";

/// DNS lookups a team may ask for.
pub const DNS_CHECKS_PER_TEAM: Rule = Rule {
    name: "team_dns:team",
    limit: 20,
    window: 15 * MINUTE,
};

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
