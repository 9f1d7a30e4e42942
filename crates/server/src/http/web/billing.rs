//! A team's billing pages (B1-B10, T7), for its admins and billing role
//! (others get the 404 page, as the API answers them): the overview
//! (plan, seats, period, balance and top-up, the upcoming invoice, recent
//! payments, billing details, cancel or resume, the trial), the plans and a
//! preview of every change before it is charged, cards, history and
//! invoices. Every page calls `domain::billing` like the API.
//!
//! The forms that move money (confirming a change, a top-up) carry a
//! random idempotency key in a hidden field and go through the API's key
//! store (`billing::idempotency`), so a double submit charges once and
//! shows the first answer. A card is added with the provider's own script
//! (`assets/billing.js` with Stripe.js from `settings.stripe.js_url`): it
//! confirms a SetupIntent made by `/billing/cards/setup` and posts only the
//! payment method's id; a payment the bank wants confirmed (3-D Secure) is
//! confirmed on a page of its own, which then asks for the payment again.
//! Only those two pages let the Stripe.js origin in their CSP.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use postroom_core::api::{self, ErrorBody, PaymentAction};
use postroom_core::billing::{minor_digits, Cycle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{capitalise, flash, see_other, FormError, Page, PageError, PageResult};
use super::passkeys::PageJson;
use super::render;
use super::session::{CsrfForm, SignedIn};
use super::teams::{team_page, team_path};
use crate::domain::billing::{self, idempotency};
use crate::domain::tokens::random_token;
use crate::error::Error;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/teams/{slug}/billing", get(overview_page))
        .route("/teams/{slug}/billing/details", post(save_details))
        .route("/teams/{slug}/billing/top-up", post(top_up))
        .route("/teams/{slug}/billing/trial", post(start_trial))
        .route(
            "/teams/{slug}/billing/cancel",
            get(cancel_page).post(cancel),
        )
        .route("/teams/{slug}/billing/resume", post(resume))
        .route("/teams/{slug}/billing/plans", get(plans_page))
        .route("/teams/{slug}/billing/preview", post(preview))
        .route("/teams/{slug}/billing/change", post(change))
        .route(
            "/teams/{slug}/billing/cards",
            get(cards_page).post(add_card),
        )
        .route("/teams/{slug}/billing/cards/setup", post(card_setup))
        .route(
            "/teams/{slug}/billing/cards/{id}/default",
            post(set_default_card),
        )
        .route("/teams/{slug}/billing/cards/{id}/remove", post(remove_card))
        .route(
            "/teams/{slug}/billing/payments/{id}/refresh",
            post(refresh_payment),
        )
        .route("/teams/{slug}/billing/history", get(history_page))
        .route("/teams/{slug}/billing/invoices", get(invoices_page))
        .route("/teams/{slug}/billing/invoices/{id}", get(invoice_page))
        .route("/teams/{slug}/billing/invoices/{id}/pdf", get(invoice_pdf))
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    before: Option<String>,
}

#[derive(Deserialize)]
struct Nothing {}

fn billing_path(slug: &str, rest: &str) -> String {
    team_path(slug, &format!("/billing{rest}"))
}

/// How a billing form shows a refusal: like [`FormError::from`], and also
/// a card that was declined or needs the card holder (402), and a provider
/// that did not answer (502). `None` for what gets an error page (404 for
/// someone billing is hidden from, 500s).
fn problem(e: &Error) -> Option<FormError> {
    if let Some(fe) = FormError::from(e) {
        return Some(fe);
    }
    match e {
        Error::PaymentRequired { message, .. }
        | Error::Upstream { message, .. }
        | Error::Forbidden { message, .. } => Some(FormError {
            error: Some(capitalise(message)),
            ..Default::default()
        }),
        _ => None,
    }
}

/// A page of the billing section: the team's header and side menu, and the
/// section's own tabs.
async fn billing_page(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    template: &'static str,
    tab: &str,
    title: &str,
) -> Result<Page, Error> {
    let team = crate::domain::teams::get(app, signed.actor(), slug).await?;
    Ok(
        team_page(app, signed.actor(), template, &team, "billing", title)
            .await
            .with("tab", tab),
    )
}

/// Amounts a form takes in the currency's major unit ("25", "25.50"), as
/// minor units; None when it is not such an amount.
fn parse_amount(text: &str, currency: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches(['$', '€', '£', '¥']).trim();
    let digits = minor_digits(currency) as usize;
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let whole = whole.replace(',', "");
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > digits
        || whole.len() > 12
    {
        return None;
    }
    let scale = 10i64.pow(digits as u32);
    let frac = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<digits$}").parse::<i64>().ok()?
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(frac)
}

// The answers of money-moving forms.

/// What a money-moving form's request came to, read from the answer the
/// key store keeps (the same for the first submit and a repeated one).
enum Outcome {
    Done,
    /// The bank wants the card holder to confirm the payment.
    Confirm(PaymentAction),
    Refused {
        status: StatusCode,
        message: String,
    },
}

fn outcome(answer: &idempotency::Answer) -> Outcome {
    if answer.status.is_success() {
        return Outcome::Done;
    }
    let body: Option<ErrorBody> = serde_json::from_str(&answer.body).ok();
    match body {
        Some(ErrorBody {
            payment: Some(action),
            ..
        }) => Outcome::Confirm(action),
        Some(b) => Outcome::Refused {
            status: answer.status,
            message: capitalise(&b.error.message),
        },
        None => Outcome::Refused {
            status: answer.status,
            message: "Something went wrong on our side; it has been logged.".into(),
        },
    }
}

/// How long a repeated submit waits for the first one to finish before it
/// shows what the first one answered.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(20);

/// Runs a money-moving request once per form key (see
/// [`idempotency::once`]). A repeated submit that arrives while the first
/// is still running waits for its answer instead of being refused, so both
/// end on the same page.
async fn keyed<T: Serialize, F: std::future::Future<Output = Result<(StatusCode, T), Error>>>(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    key: &str,
    hash: &str,
    work: impl Fn() -> F,
) -> Result<idempotency::Answer, Error> {
    let key = idempotency::check_key(Some(key))?;
    let started = tokio::time::Instant::now();
    loop {
        match idempotency::once(app, signed.actor(), slug, key, hash, work()).await {
            Err(e)
                if e.code() == "idempotency_key_in_use" && started.elapsed() < WAIT_FOR_FIRST =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// A fresh key for a form that moves money.
fn form_key() -> String {
    random_token(18)
}

// The overview (B4).

/// What the overview shows besides the account: a failed form's message,
/// and which form it was (`top_up`, `details`, `trial`, `plan`).
#[derive(Default)]
struct Extra {
    flash: Option<serde_json::Value>,
    failed: Option<&'static str>,
    fe: FormError,
    details: Option<DetailsForm>,
    amount: Option<String>,
}

async fn overview(app: &App, signed: &SignedIn, slug: &str, extra: Extra) -> Result<Page, Error> {
    let view = billing::overview(app, signed.actor(), slug).await?;
    let plans = billing::plans(app);
    let trial = plans
        .plans
        .iter()
        .find(|p| p.id == "pro")
        .and_then(|p| p.trial_days);
    let plan = plans.plans.iter().find(|p| p.id == view.plan).cloned();
    let details = extra.details.unwrap_or_else(|| DetailsForm::from(&view));
    let page = billing_page(app, signed, slug, "billing.html", "overview", "Billing")
        .await?
        .with("billing", &view)
        .with("plan", plan)
        .with("trial_days", trial)
        .with("form", details)
        .with("amount", extra.amount.unwrap_or_default())
        .with("top_up_key", form_key())
        .with("flash", extra.flash)
        .with("failed", extra.failed)
        .with_errors(extra.fe);
    Ok(page)
}

async fn overview_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let extra = Extra {
        flash: flash(q.flash.as_deref()),
        ..Default::default()
    };
    Ok(overview(&app, &signed, &slug, extra)
        .await?
        .render(&app, &signed.session)
        .await)
}

/// The overview again with a form's refusal, rendered with its status.
async fn overview_refused(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    status: StatusCode,
    mut extra: Extra,
    message: String,
) -> PageResult {
    extra.fe.error = Some(message);
    Ok(overview(app, signed, slug, extra)
        .await?
        .status(status)
        .render(app, &signed.session)
        .await)
}

/// Turns a domain refusal into the overview with its message; other errors
/// into the error page.
async fn on_overview<T>(
    r: Result<T, Error>,
    app: &App,
    signed: &SignedIn,
    slug: &str,
    failed: &'static str,
) -> Result<T, PageError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => match problem(&e) {
            Some(fe) => {
                let extra = Extra {
                    failed: Some(failed),
                    fe,
                    ..Default::default()
                };
                Err(PageError::Shown(
                    overview(app, signed, slug, extra)
                        .await?
                        .status(e.status())
                        .render(app, &signed.session)
                        .await,
                ))
            }
            None => Err(PageError::Error(e)),
        },
    }
}

#[derive(Deserialize, Serialize, Default, Clone)]
struct DetailsForm {
    #[serde(default)]
    billing_email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address_line1: String,
    #[serde(default)]
    address_line2: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    tax_id: String,
}

impl DetailsForm {
    fn from(view: &api::BillingOverview) -> DetailsForm {
        let d = &view.details;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        DetailsForm {
            billing_email: s(&view.billing_email),
            name: s(&d.name),
            address_line1: s(&d.address_line1),
            address_line2: s(&d.address_line2),
            postal_code: s(&d.postal_code),
            city: s(&d.city),
            region: s(&d.region),
            country: s(&d.country),
            tax_id: s(&d.tax_id),
        }
    }

    fn request(&self) -> api::UpdateBilling {
        let o = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        api::UpdateBilling {
            billing_email: Some(self.billing_email.clone()),
            details: Some(api::BillingDetails {
                name: o(&self.name),
                address_line1: o(&self.address_line1),
                address_line2: o(&self.address_line2),
                postal_code: o(&self.postal_code),
                city: o(&self.city),
                region: o(&self.region),
                country: o(&self.country),
                tax_id: o(&self.tax_id),
            }),
        }
    }
}

async fn save_details(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DetailsForm>,
) -> PageResult {
    let r = billing::update(&app, signed.actor(), &slug, form.request()).await;
    if let Err(e) = r {
        let Some(fe) = problem(&e) else {
            return Err(PageError::Error(e));
        };
        let extra = Extra {
            failed: Some("details"),
            fe,
            details: Some(form),
            ..Default::default()
        };
        return Ok(overview(&app, &signed, &slug, extra)
            .await?
            .status(e.status())
            .render(&app, &signed.session)
            .await);
    }
    Ok(see_other(&billing_path(
        &slug,
        "?flash=billing_details_saved",
    )))
}

#[derive(Deserialize)]
struct TopUpForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    key: String,
}

async fn top_up(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<TopUpForm>,
) -> PageResult {
    let view = billing::overview(&app, signed.actor(), &slug).await?;
    let extra = || Extra {
        failed: Some("top_up"),
        amount: Some(form.amount.clone()),
        ..Default::default()
    };
    let Some(amount) = parse_amount(&form.amount, &view.balance.currency) else {
        let mut e = extra();
        e.fe.errors
            .insert("amount".into(), "Enter an amount, like 20 or 20.50.".into());
        return overview_refused(
            &app,
            &signed,
            &slug,
            StatusCode::UNPROCESSABLE_ENTITY,
            e,
            "Please fix the fields below.".into(),
        )
        .await;
    };
    let req = api::TopUpRequest { amount };
    let hash = idempotency::request_hash("top-up", &slug, &req);
    let (actor, team) = (signed.actor(), slug.as_str());
    let answer = keyed(&app, &signed, &slug, &form.key, &hash, || {
        let (app, req) = (&app, req.clone());
        async move {
            billing::top_up(app, actor, team, req)
                .await
                .map(|r| (StatusCode::CREATED, r))
        }
    })
    .await?;
    match outcome(&answer) {
        Outcome::Done => Ok(see_other(&billing_path(&slug, "?flash=topped_up"))),
        Outcome::Confirm(action) => confirm_payment(&app, &signed, &slug, action).await,
        Outcome::Refused { status, message } => {
            overview_refused(&app, &signed, &slug, status, extra(), message).await
        }
    }
}

async fn start_trial(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let r = billing::start_trial(&app, signed.actor(), &slug, api::TrialRequest::default()).await;
    on_overview(r, &app, &signed, &slug, "trial").await?;
    Ok(see_other(&billing_path(&slug, "?flash=trial_started")))
}

async fn cancel_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
) -> PageResult {
    let view = billing::overview(&app, signed.actor(), &slug).await?;
    Ok(billing_page(
        &app,
        &signed,
        &slug,
        "billing_cancel.html",
        "overview",
        "Cancel the subscription",
    )
    .await?
    .with("billing", view)
    .render(&app, &signed.session)
    .await)
}

async fn cancel(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let r = billing::cancel(&app, signed.actor(), &slug).await;
    on_overview(r, &app, &signed, &slug, "plan").await?;
    Ok(see_other(&billing_path(
        &slug,
        "?flash=subscription_cancelled",
    )))
}

async fn resume(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let r = billing::resume(&app, signed.actor(), &slug).await;
    on_overview(r, &app, &signed, &slug, "plan").await?;
    Ok(see_other(&billing_path(
        &slug,
        "?flash=subscription_resumed",
    )))
}

// Plans, the preview and the change (B1, B2, T7).

#[derive(Deserialize, Serialize, Default, Clone)]
struct ChoiceForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    seats: String,
}

impl ChoiceForm {
    /// The choice as the API takes it, or what is wrong with it.
    fn request(&self) -> Result<api::PreviewRequest, Error> {
        let cycle = Cycle::parse(self.cycle.trim()).ok_or_else(|| {
            Error::field("cycle", "invalid_cycle", "choose monthly or yearly billing")
        })?;
        let seats = self
            .seats
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| {
                Error::field(
                    "seats",
                    "invalid_seats",
                    "seats must be a whole number from 1",
                )
            })?;
        Ok(api::PreviewRequest {
            plan: self.plan.trim().to_owned(),
            cycle,
            seats,
        })
    }
}

async fn plans(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    choice: Option<ChoiceForm>,
) -> Result<Page, Error> {
    let view = billing::overview(app, signed.actor(), slug).await?;
    let used = view.seats.members + view.seats.pending_invites;
    let choice = choice.unwrap_or_else(|| ChoiceForm {
        plan: if view.plan == "free" {
            "pro".into()
        } else {
            view.plan.clone()
        },
        cycle: view.cycle.unwrap_or(Cycle::Month).as_str().into(),
        seats: view.seats.total.max(used).max(1).to_string(),
    });
    Ok(
        billing_page(app, signed, slug, "billing_plans.html", "plans", "Plans")
            .await?
            .with("billing", &view)
            .with("plans", billing::plans(app).plans)
            .with("used", used)
            .with("form", choice)
            .with_errors(FormError::default()),
    )
}

async fn plans_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
) -> PageResult {
    Ok(plans(&app, &signed, &slug, None)
        .await?
        .render(&app, &signed.session)
        .await)
}

/// The plans page again with a refusal of the choice.
async fn plans_refused(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    choice: ChoiceForm,
    status: StatusCode,
    fe: FormError,
) -> PageResult {
    Ok(plans(app, signed, slug, Some(choice))
        .await?
        .with_errors(fe)
        .status(status)
        .render(app, &signed.session)
        .await)
}

async fn on_plans<T>(
    r: Result<T, Error>,
    app: &App,
    signed: &SignedIn,
    slug: &str,
    choice: &ChoiceForm,
) -> Result<T, PageError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => match problem(&e) {
            Some(fe) => Err(PageError::Shown(
                plans_refused(app, signed, slug, choice.clone(), e.status(), fe)
                    .await
                    .unwrap_or_else(|e| e.into_response()),
            )),
            None => Err(PageError::Error(e)),
        },
    }
}

/// What the change costs, before anything is charged: the quote's lines,
/// what the balance and the card pay, and the button that confirms it.
async fn preview(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(choice): CsrfForm<ChoiceForm>,
) -> PageResult {
    let req = on_plans(choice.request(), &app, &signed, &slug, &choice).await?;
    let quote = on_plans(
        billing::preview(&app, signed.actor(), &slug, req.clone()).await,
        &app,
        &signed,
        &slug,
        &choice,
    )
    .await?
    .quote;
    let view = billing::overview(&app, signed.actor(), &slug).await?;
    let cards = billing::cards(&app, signed.actor(), &slug).await?;
    let plan = billing::plans(&app)
        .plans
        .into_iter()
        .find(|p| p.id == req.plan);
    Ok(billing_page(
        &app,
        &signed,
        &slug,
        "billing_preview.html",
        "plans",
        "Review the change",
    )
    .await?
    .with("billing", view)
    .with("chosen", plan)
    .with("choice", &req)
    .with(
        "expires",
        crate::clock::date_in_words(&quote.expires_at, true),
    )
    .with("quote", quote)
    .with("card", cards.cards.into_iter().find(|c| c.default))
    .with("key", form_key())
    .render(&app, &signed.session)
    .await)
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(flatten)]
    choice: ChoiceForm,
    #[serde(default)]
    quote: String,
    #[serde(default)]
    key: String,
}

async fn change(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<ChangeForm>,
) -> PageResult {
    let choice = form.choice;
    let chosen = on_plans(choice.request(), &app, &signed, &slug, &choice).await?;
    let req = api::ChangeSubscription {
        plan: chosen.plan,
        cycle: chosen.cycle,
        seats: chosen.seats,
        quote: Some(form.quote.trim().to_owned()).filter(|q| !q.is_empty()),
    };
    let hash = idempotency::request_hash("subscription", &slug, &req);
    let (actor, team) = (signed.actor(), slug.as_str());
    let answer = keyed(&app, &signed, &slug, &form.key, &hash, || {
        let (app, req) = (&app, req.clone());
        async move {
            billing::change(app, actor, team, req)
                .await
                .map(|r| (StatusCode::OK, r))
        }
    })
    .await?;
    match outcome(&answer) {
        Outcome::Done => Ok(see_other(&billing_path(&slug, "?flash=plan_changed"))),
        Outcome::Confirm(action) => confirm_payment(&app, &signed, &slug, action).await,
        Outcome::Refused { status, message } => {
            let fe = FormError {
                error: Some(message),
                ..Default::default()
            };
            plans_refused(&app, &signed, &slug, choice, status, fe).await
        }
    }
}

// 3-D Secure.

/// The page that asks the card holder to confirm a payment with their bank
/// (Stripe.js), then asks for the payment again.
async fn confirm_payment(
    app: &App,
    signed: &SignedIn,
    slug: &str,
    action: PaymentAction,
) -> PageResult {
    let page = billing_page(
        app,
        signed,
        slug,
        "billing_confirm.html",
        "overview",
        "Confirm the payment",
    )
    .await?
    .with("payment", action)
    .with("stripe_js", stripe_js(app));
    Ok(with_stripe(app, page.render(app, &signed.session).await))
}

async fn refresh_payment(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    match billing::refresh_payment(&app, signed.actor(), &slug, &id).await {
        Ok(_) => Ok(see_other(&billing_path(&slug, "?flash=payment_confirmed"))),
        Err(Error::PaymentRequired {
            action: Some(action),
            ..
        }) => confirm_payment(&app, &signed, &slug, *action).await,
        Err(e) => match problem(&e) {
            Some(fe) => {
                let extra = Extra {
                    failed: Some("payment"),
                    fe,
                    ..Default::default()
                };
                Ok(overview(&app, &signed, &slug, extra)
                    .await?
                    .status(e.status())
                    .render(&app, &signed.session)
                    .await)
            }
            None => Err(PageError::Error(e)),
        },
    }
}

/// Stripe.js, where the operator's settings say it is.
fn stripe_js(app: &App) -> Option<String> {
    app.settings
        .stripe
        .as_ref()
        .map(|s| s.js_url.as_str().to_owned())
}

/// Lets a page load Stripe.js and let it talk to the provider.
fn with_stripe(app: &App, mut response: Response) -> Response {
    if let Some(s) = &app.settings.stripe {
        render::allow_stripe(
            &mut response,
            &s.js_url.origin().ascii_serialization(),
            &s.api_url.origin().ascii_serialization(),
        );
    }
    response
}

// Cards (B6).

async fn cards(app: &App, signed: &SignedIn, slug: &str, fe: FormError) -> Result<Page, Error> {
    let list = billing::cards(app, signed.actor(), slug).await?;
    let view = billing::overview(app, signed.actor(), slug).await?;
    Ok(
        billing_page(app, signed, slug, "billing_cards.html", "cards", "Cards")
            .await?
            .with("billing", view)
            .with("cards", list.cards)
            .with("publishable_key", list.publishable_key)
            .with("stripe_js", stripe_js(app))
            .with_errors(fe),
    )
}

async fn cards_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let page = cards(&app, &signed, &slug, FormError::default())
        .await?
        .with("flash", flash(q.flash.as_deref()));
    Ok(with_stripe(&app, page.render(&app, &signed.session).await))
}

async fn on_cards<T>(
    r: Result<T, Error>,
    app: &App,
    signed: &SignedIn,
    slug: &str,
) -> Result<T, PageError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => match problem(&e) {
            Some(fe) => {
                let page = cards(app, signed, slug, fe).await?.status(e.status());
                Err(PageError::Shown(with_stripe(
                    app,
                    page.render(app, &signed.session).await,
                )))
            }
            None => Err(PageError::Error(e)),
        },
    }
}

/// `POST /teams/{slug}/billing/cards/setup`, called by the cards page's
/// script with the page's CSRF token: a SetupIntent's client secret for
/// Stripe.js.
async fn card_setup(
    State(app): State<App>,
    Path(slug): Path<String>,
    req: PageJson<Nothing>,
) -> Result<Json<serde_json::Value>, Error> {
    let actor = super::passkeys::signed_in(&req.session)?;
    let (client_secret, publishable_key) = billing::card_setup(&app, &actor, &slug).await?;
    Ok(Json(json!({
        "client_secret": client_secret,
        "publishable_key": publishable_key,
    })))
}

#[derive(Deserialize)]
struct AddCardForm {
    #[serde(default)]
    payment_method: String,
}

async fn add_card(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<AddCardForm>,
) -> PageResult {
    let req = api::AddCard {
        payment_method: form.payment_method,
    };
    let r = billing::add_card(&app, signed.actor(), &slug, req).await;
    on_cards(r, &app, &signed, &slug).await?;
    Ok(see_other(&billing_path(&slug, "/cards?flash=card_added")))
}

async fn set_default_card(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let r = billing::set_default_card(&app, signed.actor(), &slug, &id).await;
    on_cards(r, &app, &signed, &slug).await?;
    Ok(see_other(&billing_path(
        &slug,
        "/cards?flash=default_card_set",
    )))
}

async fn remove_card(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    let r = billing::remove_card(&app, signed.actor(), &slug, &id).await;
    on_cards(r, &app, &signed, &slug).await?;
    Ok(see_other(&billing_path(&slug, "/cards?flash=card_removed")))
}

// History and invoices (B7, B8).

async fn history_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let history = billing::history(&app, signed.actor(), &slug, q.before.as_deref()).await?;
    Ok(billing_page(
        &app,
        &signed,
        &slug,
        "billing_history.html",
        "history",
        "Billing history",
    )
    .await?
    .with("history", history)
    .with("older", q.before.is_some())
    .render(&app, &signed.session)
    .await)
}

async fn invoices_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let list = billing::invoices(&app, signed.actor(), &slug, q.before.as_deref()).await?;
    Ok(billing_page(
        &app,
        &signed,
        &slug,
        "billing_invoices.html",
        "invoices",
        "Invoices",
    )
    .await?
    .with("invoices", list)
    .with("older", q.before.is_some())
    .render(&app, &signed.session)
    .await)
}

async fn invoice_page(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult {
    let invoice = billing::invoice(&app, signed.actor(), &slug, &id).await?;
    let title = match &invoice.number {
        Some(n) => format!("Invoice {n}"),
        None => "Upcoming invoice".to_owned(),
    };
    Ok(billing_page(
        &app,
        &signed,
        &slug,
        "billing_invoice.html",
        "invoices",
        &title,
    )
    .await?
    .with("invoice", invoice)
    .with("heading", title)
    .render(&app, &signed.session)
    .await)
}

async fn invoice_pdf(
    State(app): State<App>,
    signed: SignedIn,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult {
    let (name, bytes) = billing::invoice_pdf(&app, signed.actor(), &slug, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_are_read_in_the_major_unit() {
        assert_eq!(parse_amount("20", "usd"), Some(2000));
        assert_eq!(parse_amount(" 20.5 ", "usd"), Some(2050));
        assert_eq!(parse_amount("$1,200.05", "usd"), Some(120_005));
        assert_eq!(parse_amount("500", "jpy"), Some(500));
        for bad in ["", "abc", "1.234", "-5", "1e3", "500.5"] {
            let currency = if bad == "500.5" { "jpy" } else { "usd" };
            assert_eq!(parse_amount(bad, currency), None, "{bad:?}");
        }
    }
}
