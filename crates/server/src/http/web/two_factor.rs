//! The settings page of two-step verification (A10): set it up with an
//! authenticator app (a QR code, then a first code), see how many recovery
//! codes are left and make new ones, turn it off. Recovery codes are shown
//! once, on the page that made them.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::pages::{flash, see_other, FormError, OrForm, Page, PageResult};
use super::session::{CsrfForm, SignedIn};
use crate::domain::two_factor;
use crate::error::Error;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/settings/two-step", get(page))
        .route("/settings/two-step/begin", post(begin))
        .route("/settings/two-step/confirm", post(confirm))
        .route("/settings/two-step/recovery-codes", post(new_codes))
        .route("/settings/two-step/disable", post(disable))
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

#[derive(Deserialize, Default)]
struct TwoStepForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// The page, for the signed-in account's current state.
async fn base(app: &App, signed: &SignedIn) -> Result<Page, Error> {
    let status = two_factor::status(app, &signed.actor().user_id).await?;
    Ok(Page::new("settings_two_step.html", "Two-step verification")
        .with("nav", "settings")
        .with("section", "two-step")
        .with("status", status))
}

/// The page in the middle of a setup: the QR code and the form for a code.
async fn setup_page(app: &App, signed: &SignedIn, secret: &str, url: &str) -> Result<Page, Error> {
    Ok(base(app, signed)
        .await?
        .with("setup", true)
        .with("secret", secret)
        .with("otpauth_url", url)
        .with("qr", two_factor::qr_svg(url)?))
}

async fn page(State(app): State<App>, signed: SignedIn, Query(q): Query<FlashQuery>) -> PageResult {
    Ok(base(&app, &signed)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

async fn begin(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(_): CsrfForm<TwoStepForm>,
) -> PageResult {
    let setup = two_factor::begin_setup(&app, signed.actor())
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(base(&app, &signed).await?.with_errors(fe))
        })
        .await?;
    Ok(setup_page(&app, &signed, &setup.secret, &setup.otpauth_url)
        .await?
        .render(&app, &signed.session)
        .await)
}

async fn confirm(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<TwoStepForm>,
) -> PageResult {
    let codes = two_factor::confirm_setup(&app, signed.actor(), &form.code)
        .await
        .or_form(&app, &signed.session, async |fe| {
            // A wrong code shows the same QR code again.
            match two_factor::pending_setup(&app, signed.actor()).await? {
                Some(setup) => Ok(setup_page(&app, &signed, &setup.secret, &setup.otpauth_url)
                    .await?
                    .with_errors(fe)),
                None => Ok(base(&app, &signed).await?.with_errors(fe)),
            }
        })
        .await?;
    Ok(base(&app, &signed)
        .await?
        .with("flash", flash(Some("two_factor_on")))
        .with("recovery_codes", codes.recovery_codes)
        .render(&app, &signed.session)
        .await)
}

async fn new_codes(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<TwoStepForm>,
) -> PageResult {
    let codes = two_factor::new_recovery_codes(&app, signed.actor(), &form.password)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(base(&app, &signed)
                .await?
                .with("section_error", "codes")
                .with_errors(fe))
        })
        .await?;
    Ok(base(&app, &signed)
        .await?
        .with("recovery_codes", codes.recovery_codes)
        .render(&app, &signed.session)
        .await)
}

async fn disable(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<TwoStepForm>,
) -> PageResult {
    two_factor::disable(&app, signed.actor(), &form.password)
        .await
        .or_form(&app, &signed.session, async |fe: FormError| {
            Ok(base(&app, &signed)
                .await?
                .with("section_error", "disable")
                .with_errors(fe))
        })
        .await?;
    Ok(see_other("/settings/two-step?flash=two_factor_off"))
}
