//! Single sign-on for a team (A7): the team's own OpenID provider, bound to
//! its verified email domains, on plans that offer it (Business,
//! Enterprise). An admin sets it up (issuer, client id, client secret; the
//! secret sealed under the team's data key, see `workspace::secrets`), tests
//! it by completing a sign-in through it, and may then enforce it: people
//! whose confirmed address is at one of the team's verified domains then
//! sign in through it only (password and other providers answer 403
//! `sso_required`, naming where to sign in). Every change is in the team's
//! audit log. Signing in through it is `domain::oidc`'s flow, with the
//! provider [`provider`] makes.

use postroom_core::{api, Email, TeamEvent};

use super::record;
use crate::clock::rfc3339;
use crate::config::check_issuer;
use crate::domain::actor::Actor;
use crate::domain::oidc::{self, client::Claims, Provider, TeamProvider, Trust};
use crate::domain::plans;
use crate::domain::policy::{self, TeamAction};
use crate::domain::workspace::secrets;
use crate::error::{Error, FieldErrors, Result};
use crate::state::App;
use crate::store::{self, items::OwnerId, oidc::TeamSsoRow, teams::TeamRow, Conn};

/// The key a team's provider is stored under with identities.
pub fn provider_key(team_id: &str) -> String {
    format!("team:{team_id}")
}

fn sign_in_path(slug: &str) -> String {
    format!("/auth/sso/{slug}")
}

fn plan_required() -> Error {
    Error::forbidden(
        "plan_required",
        "single sign-on is part of the Business and Enterprise plans",
    )
}

fn not_configured() -> Error {
    Error::NotFound {
        what: "single sign-on",
    }
}

async fn verified_domains(c: &mut Conn, team_id: &str) -> Result<Vec<String>> {
    Ok(store::teams::domains(c, team_id)
        .await?
        .into_iter()
        .filter(|d| d.verified_at.is_some())
        .map(|d| d.domain)
        .collect())
}

async fn view(app: &App, c: &mut Conn, team: &TeamRow) -> Result<api::TeamSso> {
    let row = store::oidc::team_sso(c, &team.id).await?;
    let path = sign_in_path(&team.slug);
    Ok(api::TeamSso {
        available: plans::by_id(&team.plan).sso,
        configured: row.is_some(),
        issuer: row.as_ref().map(|r| r.issuer.clone()),
        client_id: row.as_ref().map(|r| r.client_id.clone()),
        redirect_uri: app.settings.link(&format!("{path}/callback")),
        sign_in_url: app.settings.link(&path),
        tested_at: row.as_ref().and_then(|r| r.tested_at).map(rfc3339),
        enforced: row.as_ref().is_some_and(|r| r.enforced != 0),
        domains: verified_domains(c, &team.id).await?,
    })
}

pub async fn get(app: &App, actor: &Actor, slug: &str) -> Result<api::TeamSso> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageSso).await?;
    view(app, &mut c, &access.team).await
}

/// Sets single sign-on up, or replaces the setup (no longer tested nor
/// enforced then).
pub async fn put(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: &api::PutTeamSsoRequest,
) -> Result<api::TeamSso> {
    let mut errors = FieldErrors::default();
    let issuer = req.issuer.trim();
    if let Err(e) = check_issuer(issuer) {
        errors.add("issuer", e);
    }
    let client_id = req.client_id.trim();
    if client_id.is_empty() || client_id.len() > 256 || client_id.chars().any(char::is_control) {
        errors.add("client_id", "must be 1-256 characters");
    }
    if req.client_secret.is_empty() || req.client_secret.len() > 1024 {
        errors.add("client_secret", "must be 1-1024 characters");
    }
    errors.into_result()?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageSso).await?;
    let team = &access.team;
    if !plans::by_id(&team.plan).sso {
        return Err(plan_required());
    }
    if verified_domains(&mut tx, &team.id).await?.is_empty() {
        return Err(Error::conflict(
            "domain_not_verified",
            None,
            "verify one of the team's email domains first: single sign-on is bound to them",
        ));
    }
    let (sealed, key_id) = secrets::seal(
        &mut tx,
        &app.kek,
        &OwnerId::Team(&team.id),
        &req.client_secret,
        now,
    )
    .await?;
    store::oidc::put_team_sso(
        &mut tx,
        &store::oidc::NewSso {
            team_id: &team.id,
            issuer,
            client_id,
            client_secret_sealed: &sealed,
            secret_key_id: &key_id,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::SsoConfigured {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
        },
        now,
    )
    .await?;
    let sso = view(app, &mut tx, team).await?;
    tx.commit().await?;
    Ok(sso)
}

/// Enforces single sign-on, or stops: only a tested setup is enforced.
pub async fn set_enforced(
    app: &App,
    actor: &Actor,
    slug: &str,
    enforced: bool,
) -> Result<api::TeamSso> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageSso).await?;
    let team = &access.team;
    let row = store::oidc::team_sso(&mut tx, &team.id)
        .await?
        .ok_or_else(not_configured)?;
    if enforced {
        if !plans::by_id(&team.plan).sso {
            return Err(plan_required());
        }
        if row.tested_at.is_none() {
            return Err(Error::conflict(
                "sso_not_tested",
                None,
                "test single sign-on first: sign in through it once with this setup",
            ));
        }
    }
    if (row.enforced != 0) != enforced {
        store::oidc::set_team_sso_enforced(&mut tx, &team.id, enforced, now).await?;
        record(
            &mut tx,
            &team.id,
            Some(&actor.user_id),
            TeamEvent::SsoEnforced { enforced },
            now,
        )
        .await?;
    }
    let sso = view(app, &mut tx, team).await?;
    tx.commit().await?;
    Ok(sso)
}

pub async fn remove(app: &App, actor: &Actor, slug: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = policy::authorize_locked(&mut tx, actor, slug, TeamAction::ManageSso).await?;
    let team = &access.team;
    let row = store::oidc::team_sso(&mut tx, &team.id)
        .await?
        .ok_or_else(not_configured)?;
    store::oidc::delete_team_sso(&mut tx, &team.id).await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::SsoRemoved { issuer: row.issuer },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn provider_from(
    app: &App,
    c: &mut Conn,
    team: &TeamRow,
    row: &TeamSsoRow,
) -> Result<Provider> {
    let secret = secrets::open(c, &app.kek, &row.secret_key_id, &row.client_secret_sealed).await?;
    Ok(Provider {
        key: provider_key(&team.id),
        name: format!("{} single sign-on", team.name),
        issuer: row.issuer.clone(),
        client_id: row.client_id.clone(),
        client_secret: secret.into(),
        trust: Trust::Domains(verified_domains(c, &team.id).await?),
        path: sign_in_path(&team.slug),
        team: Some(TeamProvider {
            team_id: team.id.clone(),
            slug: team.slug.clone(),
            setup_at: row.updated_at,
        }),
    })
}

/// The team's provider, for signing in through it: anyone may start, as
/// long as the team has it set up and its plan offers it.
pub async fn provider(app: &App, slug: &str) -> Result<Provider> {
    let mut c = app.store.conn().await?;
    let slug = slug.trim().to_ascii_lowercase();
    let team = store::teams::by_slug(&mut c, &slug)
        .await?
        .ok_or_else(not_configured)?;
    if !plans::by_id(&team.plan).sso {
        return Err(not_configured());
    }
    let row = store::oidc::team_sso(&mut c, &team.id)
        .await?
        .ok_or_else(not_configured)?;
    provider_from(app, &mut c, &team, &row).await
}

/// Starts an admin's test sign-in through the team's provider.
pub async fn begin_test(app: &App, actor: &Actor, slug: &str) -> Result<oidc::Begun> {
    let provider = {
        let mut c = app.store.conn().await?;
        let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageSso).await?;
        let row = store::oidc::team_sso(&mut c, &access.team.id)
            .await?
            .ok_or_else(not_configured)?;
        provider_from(app, &mut c, &access.team, &row).await?
    };
    oidc::begin(
        app,
        &provider,
        oidc::Purpose::Test,
        oidc::Begin {
            user_id: Some(&actor.user_id),
            next: Some(&format!(
                "/teams/{}/sso",
                provider.team.as_ref().expect("a team's").slug
            )),
            ..Default::default()
        },
    )
    .await
}

/// Records that the admin `user_id` completed a sign-in through the setup
/// the test began with (a setup replaced meanwhile is not the one tested).
pub(crate) async fn record_test(
    app: &App,
    user_id: &str,
    team: &TeamProvider,
    _claims: &Claims,
) -> Result<()> {
    let now = app.clock.now();
    let actor = Actor {
        user_id: user_id.to_owned(),
        session_id: None,
        can_write: true,
    };
    let mut tx = app.store.begin().await?;
    let access =
        policy::authorize_locked(&mut tx, &actor, &team.slug, TeamAction::ManageSso).await?;
    let row = store::oidc::team_sso(&mut tx, &access.team.id)
        .await?
        .ok_or_else(not_configured)?;
    if access.team.id != team.team_id
        || !store::oidc::mark_team_sso_tested(&mut tx, &team.team_id, team.setup_at, now).await?
    {
        return Err(Error::conflict(
            "sso_changed",
            None,
            "single sign-on was set up again while you tested it: test the new setup",
        ));
    }
    record(
        &mut tx,
        &team.team_id,
        Some(user_id),
        TeamEvent::SsoTested { issuer: row.issuer },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A team enforcing single sign-on for an address's domain.
#[derive(Debug, Clone)]
pub struct Enforcing {
    pub slug: String,
    pub name: String,
}

/// The team enforcing single sign-on for `email`'s domain, if any.
pub async fn enforced_for(app: &App, email: &str) -> Result<Option<Enforcing>> {
    let Ok(email) = Email::parse(email) else {
        return Ok(None);
    };
    let domain = email.domain().to_ascii_lowercase();
    let found = store::oidc::enforced_for_domain(&mut *app.store.conn().await?, &domain).await?;
    // A plan that no longer offers it enforces nothing.
    Ok(found
        .filter(|(_, _, _, plan)| plans::by_id(plan).sso)
        .map(|(_, slug, name, _)| Enforcing { slug, name }))
}

/// 403 `sso_required`: the way to sign in named.
pub fn sso_required(app: &App, team: &Enforcing) -> Error {
    Error::forbidden(
        "sso_required",
        format!(
            "{} requires single sign-on for this address: sign in at {}",
            team.name,
            app.settings.link(&sign_in_path(&team.slug))
        ),
    )
}

/// The name shown for a stored `team:<id>` key.
pub async fn provider_name_for_key(app: &App, key: &str) -> Option<String> {
    let team_id = key.strip_prefix("team:")?;
    let mut c = app.store.conn().await.ok()?;
    let team = store::teams::by_id(&mut c, team_id).await.ok()??;
    Some(format!("{} single sign-on", team.name))
}
