//! A team's single sign-on page (A7), for its admins: set the provider up
//! (issuer, client id, client secret), test it by signing in through it
//! (`/teams/{slug}/sso/test`, in `oidc`), require it, or remove it. The
//! rules are `domain::teams::sso`'s, as for the API.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api;
use serde::{Deserialize, Serialize};

use super::pages::{flash, see_other, FormError, OrForm, Page, PageResult};
use super::session::{CsrfForm, SignedIn};
use super::teams::{problem, team_page, team_path};
use crate::domain::teams;
use crate::error::Error;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/teams/{slug}/sso", get(sso_page).post(save))
        .route("/teams/{slug}/sso/enforce", post(enforce))
        .route("/teams/{slug}/sso/remove", post(remove))
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
struct SsoForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default, skip_serializing)]
    client_secret: String,
}

async fn page(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    form: Option<&SsoForm>,
    fe: Option<FormError>,
) -> Result<Page, Error> {
    let team = teams::get(app, signed.actor(), slug).await?;
    let sso = teams::sso::get(app, signed.actor(), slug).await?;
    let form = match form {
        Some(f) => serde_json::to_value(f).unwrap_or_default(),
        None => serde_json::json!({
            "issuer": sso.issuer.clone().unwrap_or_default(),
            "client_id": sso.client_id.clone().unwrap_or_default(),
        }),
    };
    let mut page = team_page(
        app,
        signed.actor(),
        "team_sso.html",
        &team,
        "sso",
        "Single sign-on",
    )
    .await
    .with("sso", &sso)
    .with("form", form);
    if let Some(fe) = fe {
        page = page.with_errors(fe);
    }
    Ok(page)
}

async fn sso_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(page(&app, &signed, &slug, None, None)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

async fn save(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<SsoForm>,
) -> PageResult {
    let req = api::PutTeamSsoRequest {
        issuer: form.issuer.clone(),
        client_id: form.client_id.clone(),
        client_secret: form.client_secret.clone(),
    };
    teams::sso::put(&app, signed.actor(), &slug, &req)
        .await
        .or_form_with(problem, &app, &signed.session, async |fe| {
            page(&app, &signed, &slug, Some(&form), Some(fe)).await
        })
        .await?;
    Ok(see_other(&team_path(&slug, "/sso?flash=sso_saved")))
}

#[derive(Deserialize)]
struct EnforceForm {
    #[serde(default)]
    enforced: String,
}

async fn enforce(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<EnforceForm>,
) -> PageResult {
    let enforced = form.enforced == "on";
    teams::sso::set_enforced(&app, signed.actor(), &slug, enforced)
        .await
        .or_form_with(problem, &app, &signed.session, async |fe| {
            page(&app, &signed, &slug, None, Some(fe)).await
        })
        .await?;
    let key = if enforced {
        "sso_enforced"
    } else {
        "sso_not_enforced"
    };
    Ok(see_other(&team_path(&slug, &format!("/sso?flash={key}"))))
}

#[derive(Deserialize)]
struct Nothing {}

async fn remove(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    teams::sso::remove(&app, signed.actor(), &slug).await?;
    Ok(see_other(&team_path(&slug, "/sso?flash=sso_removed")))
}
