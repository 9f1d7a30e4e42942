//! `/api/v1/plans`, `/api/v1/teams/{team}/billing` and the provider's
//! webhook (B1-B10, T7). Billing is for a team's admins and billing role;
//! other members get 404, as outsiders do.
//!
//! Requests that move money (a change of subscription, a top-up) need an
//! `Idempotency-Key` header: the first answer is stored with the key and
//! given again for a retry with the same key and body, so money moves once.
//! The same key with another body is 422 `idempotency_key_reused`; while the
//! first request is still running, 409 `idempotency_key_in_use`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use postroom_core::api::ErrorBody;
use postroom_core::api::{
    AddCard, BillingOverview, CardList, CardView, ChangeSubscription, HistoryPage, InvoiceList,
    InvoiceView, PlanList, PreviewRequest, QuoteResponse, SubscriptionResponse, TopUpRequest,
    TopUpResponse, TrialRequest, UpdateBilling,
};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::actor::Actor;
use crate::domain::billing;
use crate::error::Result;
use crate::http::extract::{ApiJson, ApiQuery, Auth};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(plans))
        .routes(routes!(overview, update))
        .routes(routes!(preview))
        .routes(routes!(change_subscription, cancel_subscription))
        .routes(routes!(start_trial))
        .routes(routes!(top_up))
        .routes(routes!(list_cards, add_card))
        .routes(routes!(set_default_card))
        .routes(routes!(remove_card))
        .routes(routes!(refresh_payment))
        .routes(routes!(history))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(invoice_pdf))
        .routes(routes!(webhook))
}

/// The plans and their prices per seat: amounts in minor units with
/// their currency.
#[utoipa::path(get, path = "/api/v1/plans", tag = "billing",
    responses((status = 200, body = PlanList)))]
async fn plans(State(app): State<App>) -> Json<PlanList> {
    Json(billing::plans(&app))
}

/// The billing overview (B4): plan, cycle, seats, period, balance, the
/// upcoming invoice, recent payments, billing email, cancellation.
#[utoipa::path(get, path = "/api/v1/teams/{team}/billing", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such team, or not an admin or billing member")))]
async fn overview(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<BillingOverview>> {
    Ok(Json(billing::overview(&app, &actor, &team).await?))
}

/// Set the billing email and the details printed on invoices.
#[utoipa::path(patch, path = "/api/v1/teams/{team}/billing", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = UpdateBilling,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = BillingOverview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<UpdateBilling>,
) -> Result<Json<BillingOverview>> {
    Ok(Json(billing::update(&app, &actor, &team, req).await?))
}

/// Preview a change of plan, cycle or seats (B2): the prorated lines and
/// what the balance and the card would pay, pinned in a quote for 15
/// minutes.
#[utoipa::path(post, path = "/api/v1/teams/{team}/billing/preview", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = PreviewRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = QuoteResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "billing_off, no_change, seats_below_members, invoice_unpaid"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn preview(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<PreviewRequest>,
) -> Result<Json<QuoteResponse>> {
    Ok(Json(billing::preview(&app, &actor, &team, req).await?))
}

/// Change plan, cycle or seats (B2, T7), charging exactly the quote when
/// one is given; the same plan, cycle and seats take a cancellation back.
/// Needs `Idempotency-Key`. A declined card: 402 `card_declined`, nothing
/// changed; a card that needs 3-D Secure: 402 `authentication_required`
/// with `payment` for Stripe.js, and the change applies once it is paid.
#[utoipa::path(put, path = "/api/v1/teams/{team}/billing/subscription", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = ChangeSubscription,
    params(("team" = String, Path, description = "The team's slug"),
        ("Idempotency-Key" = String, Header, description = "Unique per intended change; a retry sends the same")),
    responses((status = 200, body = SubscriptionResponse), (status = 400, body = ErrorBody, description = "idempotency_key_required"),
        (status = 401, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "card_declined, card_required, authentication_required"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "quote_stale, quote_expired, quote_used, payment_in_progress, idempotency_key_in_use, billing_off"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "idempotency_key_reused, invalid_plan, invalid_seats, quote_mismatch"),
        (status = 502, body = ErrorBody, description = "payment_pending: the provider has not answered; it applies when it does")))]
async fn change_subscription(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChangeSubscription>,
) -> Result<Response> {
    let hash = billing::idempotency::request_hash("subscription", &team, &req);
    idempotent(&app, &actor, &team, &headers, hash, async {
        billing::change(&app, &actor, &team, req)
            .await
            .map(|r| (StatusCode::OK, r))
    })
    .await
}

/// Cancel the subscription at the period's end (B4): the team keeps its
/// plan until then and returns to Free.
#[utoipa::path(delete, path = "/api/v1/teams/{team}/billing/subscription", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no_subscription")))]
async fn cancel_subscription(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<BillingOverview>> {
    Ok(Json(billing::cancel(&app, &actor, &team).await?))
}

/// Start the team's one trial of Pro, without a card (B1). When it ends
/// the team renews on Pro if it has a card by then, and returns to Free if
/// not.
#[utoipa::path(post, path = "/api/v1/teams/{team}/billing/trial", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = TrialRequest,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = BillingOverview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "trial_used, trial_unavailable, billing_off"), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn start_trial(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<TrialRequest>,
) -> Result<Json<BillingOverview>> {
    Ok(Json(billing::start_trial(&app, &actor, &team, req).await?))
}

/// Add money to the balance with the default card (B3). Needs
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/teams/{team}/billing/top-ups", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = TopUpRequest,
    params(("team" = String, Path, description = "The team's slug"),
        ("Idempotency-Key" = String, Header, description = "Unique per intended top-up; a retry sends the same")),
    responses((status = 201, body = TopUpResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "card_declined, card_required, authentication_required"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn top_up(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TopUpRequest>,
) -> Result<Response> {
    let hash = billing::idempotency::request_hash("top-up", &team, &req);
    idempotent(&app, &actor, &team, &headers, hash, async {
        billing::top_up(&app, &actor, &team, req)
            .await
            .map(|r| (StatusCode::CREATED, r))
    })
    .await
}

/// The team's cards (B6), the default first; `expired` flags a card past
/// its expiry month.
#[utoipa::path(get, path = "/api/v1/teams/{team}/billing/cards", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 200, body = CardList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_cards(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
) -> Result<Json<CardList>> {
    Ok(Json(billing::cards(&app, &actor, &team).await?))
}

/// Add a card that Stripe's card element made in the browser
/// (`payment_method`: its `pm_...` id); the number never reaches Postroom.
/// The first card becomes the default; an unpaid invoice is tried at once.
#[utoipa::path(post, path = "/api/v1/teams/{team}/billing/cards", tag = "billing", security(("session" = []), ("api_key" = [])), request_body = AddCard,
    params(("team" = String, Path, description = "The team's slug")),
    responses((status = 201, body = CardView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "card_exists, too_many_cards, billing_off"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid_payment_method, card_rejected"),
        (status = 502, body = ErrorBody, description = "provider_unavailable")))]
async fn add_card(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<AddCard>,
) -> Result<(StatusCode, Json<CardView>)> {
    Ok((
        StatusCode::CREATED,
        Json(billing::add_card(&app, &actor, &team, req).await?),
    ))
}

/// Make a card the default one.
#[utoipa::path(put, path = "/api/v1/teams/{team}/billing/cards/{card}/default", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("card" = String, Path, description = "The card's id")),
    responses((status = 200, body = CardView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_default_card(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, card)): Path<(String, String)>,
) -> Result<Json<CardView>> {
    Ok(Json(
        billing::set_default_card(&app, &actor, &team, &card).await?,
    ))
}

/// Remove a card (here and at the provider).
#[utoipa::path(delete, path = "/api/v1/teams/{team}/billing/cards/{card}", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("card" = String, Path, description = "The card's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "payment_in_progress, billing_off")))]
async fn remove_card(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, card)): Path<(String, String)>,
) -> Result<StatusCode> {
    billing::remove_card(&app, &actor, &team, &card).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Look a payment up again with the provider, after the card holder
/// confirmed it (3-D Secure): answers as the request that made it would
/// have, had it been paid then.
#[utoipa::path(post, path = "/api/v1/teams/{team}/billing/payments/{payment}/refresh", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("payment" = String, Path, description = "The payment's id")),
    responses((status = 200, body = SubscriptionResponse), (status = 401, body = ErrorBody),
        (status = 402, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "billing_off"), (status = 502, body = ErrorBody)))]
async fn refresh_payment(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, payment)): Path<(String, String)>,
) -> Result<Json<SubscriptionResponse>> {
    Ok(Json(
        billing::refresh_payment(&app, &actor, &team, &payment).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
struct PageQuery {
    /// The previous page's `next`.
    before: Option<String>,
}

/// The billing history (B7): plan and seat changes, renewals, payments,
/// top-ups and card changes, newest first.
#[utoipa::path(get, path = "/api/v1/teams/{team}/billing/history", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), PageQuery),
    responses((status = 200, body = HistoryPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn history(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>> {
    Ok(Json(
        billing::history(&app, &actor, &team, q.before.as_deref()).await?,
    ))
}

/// The team's invoices and credit notes (B8), newest first.
#[utoipa::path(get, path = "/api/v1/teams/{team}/billing/invoices", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), PageQuery),
    responses((status = 200, body = InvoiceList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_invoices(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<InvoiceList>> {
    Ok(Json(
        billing::invoices(&app, &actor, &team, q.before.as_deref()).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/teams/{team}/billing/invoices/{invoice}", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("invoice" = String, Path, description = "The invoice's id")),
    responses((status = 200, body = InvoiceView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_invoice(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, invoice)): Path<(String, String)>,
) -> Result<Json<InvoiceView>> {
    Ok(Json(billing::invoice(&app, &actor, &team, &invoice).await?))
}

/// The invoice as a PDF: the same bytes each time.
#[utoipa::path(get, path = "/api/v1/teams/{team}/billing/invoices/{invoice}/pdf", tag = "billing", security(("session" = []), ("api_key" = [])),
    params(("team" = String, Path, description = "The team's slug"), ("invoice" = String, Path, description = "The invoice's id")),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn invoice_pdf(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((team, invoice)): Path<(String, String)>,
) -> Result<Response> {
    let (name, bytes) = billing::invoice_pdf(&app, &actor, &team, &invoice).await?;
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

/// The payment provider's events (Stripe webhooks), verified by their
/// `Stripe-Signature` on the raw body (else 400); each event is handled
/// once.
#[utoipa::path(post, path = "/api/v1/billing/webhook", tag = "billing",
    request_body(content = String, content_type = "application/json", description = "A Stripe event, as Stripe signed it"),
    responses((status = 204), (status = 400, body = ErrorBody, description = "invalid_signature, webhook_not_configured"),
        (status = 409, body = ErrorBody, description = "billing_off")))]
async fn webhook(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Result<StatusCode> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    billing::webhook(&app, &body, signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs `work` once per `Idempotency-Key` (see [`billing::idempotency`]);
/// a replayed answer says so in `Idempotent-Replayed: true`.
async fn idempotent<T: Serialize>(
    app: &App,
    actor: &Actor,
    team: &str,
    headers: &HeaderMap,
    hash: String,
    work: impl std::future::Future<Output = Result<(StatusCode, T)>>,
) -> Result<Response> {
    let key = billing::idempotency::check_key(
        headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
    )?;
    let answer = billing::idempotency::once(app, actor, team, key, &hash, work).await?;
    let mut response = (
        answer.status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response();
    if answer.replayed {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
