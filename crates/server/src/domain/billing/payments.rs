//! Moving money (B3, B5, B9): charging the default card, recording what the
//! provider said exactly once, renewals at each period's end and the retries
//! of unpaid invoices, the provider's webhooks, and reconciling charges whose
//! answer was lost.
//!
//! A charge is a `payments` row first (in the transaction that decided it),
//! then the provider call with the row's id as the idempotency key, then
//! [`settle`], which moves the row out of `pending` / `requires_action` once
//! and does what the outcome calls for in that same transaction (apply the
//! change, add to the balance, mark the invoice paid). A crash between any
//! two of these steps leaves a `pending` row (or an open invoice due for an
//! attempt) that the next [`run_due`] / [`reconcile`] picks up: it asks the
//! provider for the charge by our id before charging, so a charge is made
//! once and recorded once.

use std::sync::Arc;

use postroom_core::api::PaymentAction;
use postroom_core::billing::{self as money, add_cycles, format_date, format_money, Period};
use postroom_core::TeamEvent;

use super::{lock_team, ms, plans, priced, provider, record, secs, set_team_plan, views};
use crate::billing::{ChargeOutcome, ChargeRequest, PaymentProvider, ProviderError};
use crate::clock::{Millis, DAY, MINUTE};
use crate::domain::actor::Actor;
use crate::domain::policy::{self, TeamAction};
use crate::error::{Error, Result};
use crate::mail::Template;
use crate::state::App;
use crate::store::billing::{InvoiceRow, Outcome, PaymentRow, SubscriptionRow};
use crate::store::{self, new_id, teams::TeamRow, Tx};

/// Days after a failed renewal payment at which it is tried again; after
/// the last, the paid plan ends.
pub const RETRY_AFTER_DAYS: [i64; 3] = [1, 3, 5];

/// Teams (or invoices, or payments) one round of background work handles.
const ROUND: i64 = 100;

/// What became of a payment. (Short-lived and moved a few times per
/// payment: its size does not matter.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Settled {
    Paid {
        payment: PaymentRow,
        invoice: Option<InvoiceRow>,
    },
    Declined {
        payment: PaymentRow,
    },
    NeedsAction {
        payment: PaymentRow,
    },
    /// The provider's answer is not known yet: the payment stays pending and
    /// is settled when it is (a webhook, or reconciling).
    Unknown,
}

impl Settled {
    fn from_row(payment: PaymentRow, invoice: Option<InvoiceRow>) -> Settled {
        match payment.status.as_str() {
            "succeeded" => Settled::Paid { payment, invoice },
            "failed" => Settled::Declined { payment },
            "requires_action" => Settled::NeedsAction { payment },
            _ => Settled::Unknown,
        }
    }

    /// The answer for a request whose payment did not go through.
    pub fn into_error(self, app: &App) -> Error {
        match self {
            Settled::Paid { .. } => Error::Internal(anyhow::anyhow!("a paid payment is no error")),
            Settled::Declined { payment } => Error::PaymentRequired {
                code: "card_declined",
                message: format!(
                    "the card was declined: {}; nothing was changed",
                    payment
                        .failure_message
                        .as_deref()
                        .unwrap_or("the bank gave no reason")
                        .trim_end_matches('.')
                ),
                action: None,
            },
            Settled::NeedsAction { payment } => Error::PaymentRequired {
                code: "authentication_required",
                message: "the card's bank asks the card holder to confirm this payment (3-D Secure); it takes effect once confirmed".into(),
                action: Some(Box::new(PaymentAction {
                    payment_id: payment.id,
                    client_secret: payment.client_secret.unwrap_or_default(),
                    publishable_key: app
                        .settings
                        .stripe
                        .as_ref()
                        .map(|s| s.publishable_key.clone())
                        .unwrap_or_default(),
                })),
            },
            Settled::Unknown => Error::Upstream {
                code: "payment_pending",
                message: "the payment provider has not confirmed the payment yet; it takes effect as soon as it does (nothing is charged twice)".into(),
            },
        }
    }
}

fn card_required() -> Error {
    Error::PaymentRequired {
        code: "card_required",
        message: "add a card first: this costs more than the balance holds".into(),
        action: None,
    }
}

/// Writes a pending payment of `amount` to the default card, in the
/// caller's transaction (which holds the team's lock). The caller commits
/// and then calls [`charge`].
#[allow(clippy::too_many_arguments)]
pub(super) async fn begin(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    purpose: &str,
    amount: i64,
    invoice_id: Option<&str>,
    quote_id: Option<&str>,
    created_by: Option<&str>,
    now: Millis,
) -> Result<PaymentRow> {
    let card = store::billing::default_card(tx, &team.id)
        .await?
        .ok_or_else(card_required)?;
    let row = PaymentRow {
        id: new_id(),
        team_id: team.id.clone(),
        purpose: purpose.into(),
        invoice_id: invoice_id.map(str::to_owned),
        quote_id: quote_id.map(str::to_owned),
        amount,
        currency: app.settings.catalogue.currency.clone(),
        card_id: Some(card.id.clone()),
        card_label: Some(views::card_label(&card.brand, &card.last4)),
        provider_id: None,
        client_secret: None,
        status: "pending".into(),
        failure_code: None,
        failure_message: None,
        hard_decline: 0,
        created_by: created_by.map(str::to_owned),
        created_at: now,
        updated_at: now,
    };
    store::billing::insert_payment(tx, &row).await?;
    Ok(row)
}

/// The provider's customer and card behind a payment.
async fn charge_request(app: &App, payment: &PaymentRow) -> Result<Option<ChargeRequest>> {
    let mut c = app.store.conn().await?;
    let account = store::billing::account(&mut c, &payment.team_id).await?;
    let card = match &payment.card_id {
        Some(id) => store::billing::card(&mut c, &payment.team_id, id).await?,
        None => None,
    };
    let (Some(customer), Some(card)) = (account.and_then(|a| a.customer_id), card) else {
        return Ok(None);
    };
    Ok(Some(ChargeRequest {
        customer,
        payment_method: card.provider_id,
        amount: payment.amount,
        currency: payment.currency.clone(),
        key: payment.id.clone(),
        description: match payment.purpose.as_str() {
            "top_up" => "Postroom balance top-up".into(),
            "renewal" => "Postroom subscription renewal".into(),
            _ => "Postroom subscription change".into(),
        },
    }))
}

/// Charges a pending payment and records the outcome.
pub(super) async fn charge(app: &App, payment: &PaymentRow) -> Result<Settled> {
    let provider = provider(app)?;
    let Some(req) = charge_request(app, payment).await? else {
        let gone = ChargeOutcome::Declined {
            intent: None,
            code: "card_removed".into(),
            decline_code: None,
            message: "the card was removed before it was charged".into(),
            hard: false,
        };
        return settle(app, &payment.id, &gone).await;
    };
    match provider.charge(&req).await {
        Ok(outcome) => settle(app, &payment.id, &outcome).await,
        Err(ProviderError::Unknown(why)) => {
            tracing::warn!(payment = %payment.id, error = %why, "a charge's outcome is unknown; it will be reconciled");
            Ok(Settled::Unknown)
        }
        Err(ProviderError::Rejected { code, message }) => {
            let refused = ChargeOutcome::Declined {
                intent: None,
                code,
                decline_code: None,
                message,
                hard: false,
            };
            settle(app, &payment.id, &refused).await
        }
    }
}

/// Records what the provider said of a payment, once, and does what it
/// calls for in the same transaction. A payment settled already is left as
/// it is (a webhook and the request itself may both report it).
pub async fn settle(app: &App, payment_id: &str, outcome: &ChargeOutcome) -> Result<Settled> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let payment = store::billing::payment(&mut tx, payment_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payment {payment_id} vanished"))?;
    let team = lock_team(&mut tx, &payment.team_id).await?;
    let o = match outcome {
        ChargeOutcome::Succeeded { intent } => Outcome {
            status: "succeeded",
            provider_id: Some(intent),
            ..Default::default()
        },
        ChargeOutcome::RequiresAction {
            intent,
            client_secret,
        } => Outcome {
            status: "requires_action",
            provider_id: Some(intent),
            client_secret: Some(client_secret),
            ..Default::default()
        },
        ChargeOutcome::Processing { intent } => Outcome {
            status: "pending",
            provider_id: Some(intent),
            ..Default::default()
        },
        ChargeOutcome::Declined {
            intent,
            code,
            message,
            hard,
            ..
        } => Outcome {
            status: "failed",
            provider_id: intent.as_deref(),
            failure_code: Some(code),
            failure_message: Some(message),
            hard_decline: *hard,
            ..Default::default()
        },
    };
    let changed = store::billing::set_payment_outcome(&mut tx, payment_id, &o, now).await?;
    let mut invoice = None;
    if changed {
        if let Some(team) = &team {
            invoice = on_outcome(app, &mut tx, team, &payment, outcome, now).await?;
        }
    }
    let payment = store::billing::payment(&mut tx, payment_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payment {payment_id} vanished"))?;
    if invoice.is_none() && payment.status == "succeeded" {
        if let Some(id) = &payment.invoice_id {
            invoice = store::billing::invoice_by_id(&mut tx, id).await?;
        }
    }
    tx.commit().await?;
    Ok(Settled::from_row(payment, invoice))
}

/// What a newly known outcome calls for.
async fn on_outcome(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    payment: &PaymentRow,
    outcome: &ChargeOutcome,
    now: Millis,
) -> Result<Option<InvoiceRow>> {
    let actor = payment.created_by.as_deref();
    match outcome {
        ChargeOutcome::Succeeded { .. } => {
            let mut invoice = None;
            match payment.purpose.as_str() {
                "change" => {
                    let quote_id = payment.quote_id.as_deref().unwrap_or_default();
                    let quote = store::billing::quote(tx, &team.id, quote_id)
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!("the quote of payment {} vanished", payment.id)
                        })?;
                    let inv =
                        super::subscription::apply_quote(app, tx, team, &quote, actor, now).await?;
                    invoice = Some(inv);
                }
                "top_up" => {
                    let description = format!(
                        "Top-up{}",
                        payment
                            .card_label
                            .as_deref()
                            .map(|c| format!(" with {c}"))
                            .unwrap_or_default()
                    );
                    store::billing::add_entry(
                        tx,
                        &store::billing::NewEntry {
                            team_id: &team.id,
                            amount: payment.amount,
                            currency: &payment.currency,
                            kind: "top_up",
                            description: &description,
                            source: &format!("payment:{}", payment.id),
                            invoice_id: None,
                            created_by: actor,
                        },
                        now,
                    )
                    .await?;
                    record(
                        tx,
                        &team.id,
                        actor,
                        TeamEvent::BillingToppedUp {
                            payment_id: payment.id.clone(),
                            amount: payment.amount,
                            currency: payment.currency.clone(),
                        },
                        now,
                    )
                    .await?;
                }
                _ => {
                    if let Some(id) = &payment.invoice_id {
                        store::billing::settle_invoice(tx, id, "paid", Some(now)).await?;
                        invoice = store::billing::invoice_by_id(tx, id).await?;
                    }
                    if let Some(mut sub) = store::billing::subscription(tx, &team.id).await? {
                        if sub.status == "past_due" {
                            sub.status = "active".into();
                            sub.updated_at = now;
                            store::billing::put_subscription(tx, &sub).await?;
                        }
                    }
                }
            }
            record(
                tx,
                &team.id,
                actor,
                TeamEvent::BillingPaymentSucceeded {
                    payment_id: payment.id.clone(),
                    purpose: payment.purpose.clone(),
                    amount: payment.amount,
                    currency: payment.currency.clone(),
                    card: payment.card_label.clone(),
                    invoice: invoice.as_ref().map(|i| i.number.clone()),
                },
                now,
            )
            .await?;
            Ok(invoice)
        }
        ChargeOutcome::Declined { message, hard, .. } => {
            record(
                tx,
                &team.id,
                actor,
                TeamEvent::BillingPaymentFailed {
                    payment_id: payment.id.clone(),
                    purpose: payment.purpose.clone(),
                    amount: payment.amount,
                    currency: payment.currency.clone(),
                    card: payment.card_label.clone(),
                    reason: message.clone(),
                },
                now,
            )
            .await?;
            match payment.purpose.as_str() {
                // Nothing changed: the quote may be used again (with another
                // card, say) while it holds.
                "change" => {
                    if let Some(q) = &payment.quote_id {
                        store::billing::release_quote(tx, q).await?;
                    }
                }
                "renewal" => {
                    if let Some(id) = &payment.invoice_id {
                        if let Some(inv) = store::billing::invoice_by_id(tx, id).await? {
                            renewal_failed(app, tx, team, &inv, payment, message, *hard, now)
                                .await?;
                        }
                    }
                }
                _ => {}
            }
            Ok(None)
        }
        ChargeOutcome::RequiresAction { .. } | ChargeOutcome::Processing { .. } => Ok(None),
    }
}

/// A renewal payment failed: try again on the schedule (not after a hard
/// decline), tell the billing email and the admins, and end the plan after
/// the last try.
#[allow(clippy::too_many_arguments)]
async fn renewal_failed(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    invoice: &InvoiceRow,
    payment: &PaymentRow,
    reason: &str,
    hard: bool,
    now: Millis,
) -> Result<()> {
    let attempts = invoice.attempts;
    let next = match RETRY_AFTER_DAYS.get((attempts - 1).max(0) as usize) {
        Some(days) if !hard => Some(now + days * DAY),
        _ => None,
    };
    let last = next.is_none() && !hard;
    store::billing::invoice_attempted(tx, &invoice.id, attempts, next).await?;
    let sub = store::billing::subscription(tx, &team.id).await?;
    if last {
        end_plan(app, tx, team, "unpaid", now).await?;
        store::billing::settle_invoice(tx, &invoice.id, "uncollectible", None).await?;
        return Ok(());
    }
    if let Some(mut sub) = sub {
        if sub.status != "past_due" {
            sub.status = "past_due".into();
            sub.updated_at = now;
            store::billing::put_subscription(tx, &sub).await?;
        }
        tell(
            app,
            tx,
            team,
            serde_json::json!({
                "kind": "payment_failed",
                "amount": format_money(payment.amount, &payment.currency),
                "number": invoice.number,
                "card": payment.card_label,
                "reason": reason.trim_end_matches('.'),
                "next_attempt": next.map(|n| format_date(secs(n))),
                "plan": plans::by_id(&sub.plan).name,
            }),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Mails a billing notice to the billing email, or else to the admins.
async fn tell(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    mut ctx: serde_json::Value,
    now: Millis,
) -> Result<()> {
    ctx["team_name"] = team.name.clone().into();
    ctx["link"] = app
        .settings
        .link(&format!("/teams/{}/billing", team.slug))
        .into();
    ctx["free_members"] = plans::FREE.seats.into();
    let account = store::billing::account(tx, &team.id).await?;
    let mut to: Vec<String> = Vec::new();
    if let Some(email) = account.and_then(|a| a.billing_email) {
        to.push(email);
    }
    for m in store::teams::members(tx, &team.id).await? {
        if m.role == "admin" && !to.iter().any(|t| t.eq_ignore_ascii_case(&m.person.email)) {
            to.push(m.person.email);
        }
    }
    for address in to {
        app.mailer
            .queue(tx, &address, Template::BillingNotice, &ctx, now)
            .await?;
    }
    Ok(())
}

/// Ends the paid plan (B1): the team is on Free with Free's seats and keeps
/// every member; it adds nobody beyond Free's limit until it pays again.
pub(super) async fn end_plan(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    reason: &str,
    now: Millis,
) -> Result<()> {
    let Some(sub) = store::billing::subscription(tx, &team.id).await? else {
        return Ok(());
    };
    store::billing::delete_subscription(tx, &team.id).await?;
    set_team_plan(tx, &team.id, plans::FREE, plans::FREE.seats, now).await?;
    record(
        tx,
        &team.id,
        None,
        TeamEvent::BillingPlanEnded {
            plan: sub.plan.clone(),
            reason: reason.into(),
        },
        now,
    )
    .await?;
    if reason != "team_deleted" {
        let why = match reason {
            "cancelled" => "it was cancelled and its period ended",
            "trial_ended" => "the trial ended and no card was added",
            _ => "the renewal could not be paid",
        };
        tell(
            app,
            tx,
            team,
            serde_json::json!({
                "kind": "plan_ended",
                "plan": plans::by_id(&sub.plan).name,
                "reason": why,
            }),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Looks a payment up again with the provider (after 3-D Secure in the
/// browser) and records what it says.
pub async fn refresh_payment(
    app: &App,
    actor: &Actor,
    slug: &str,
    payment_id: &str,
) -> Result<postroom_core::api::SubscriptionResponse> {
    let payment = {
        let mut c = app.store.conn().await?;
        let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
        store::billing::payment(&mut c, payment_id)
            .await?
            .filter(|p| p.team_id == access.team.id)
            .ok_or(Error::NotFound { what: "payment" })?
    };
    let provider = provider(app)?;
    let settled = match (&payment.provider_id, payment.status.as_str()) {
        (Some(intent), "pending" | "requires_action") => {
            match provider.retrieve_charge(intent).await {
                Ok(outcome) => settle(app, &payment.id, &outcome).await?,
                Err(e) => {
                    tracing::warn!(payment = %payment.id, error = %e, "looking up a payment failed");
                    Settled::Unknown
                }
            }
        }
        _ => {
            let invoice = match &payment.invoice_id {
                Some(id) => {
                    store::billing::invoice_by_id(&mut *app.store.conn().await?, id).await?
                }
                None => None,
            };
            Settled::from_row(payment, invoice)
        }
    };
    super::subscription::finish_payment(app, actor, slug, settled).await
}

/// Handles a provider webhook: verified on the raw bytes, each event once,
/// in any order (the payment is looked up with the provider, so a late or
/// repeated event cannot move it backwards).
pub async fn webhook(app: &App, body: &[u8], signature: Option<&str>) -> Result<()> {
    let provider = provider(app)?;
    let secret = app
        .settings
        .stripe
        .as_ref()
        .and_then(|s| s.webhook_secret.as_ref())
        .ok_or_else(|| {
            Error::bad_request("webhook_not_configured", "no webhook secret is configured")
        })?;
    let signature = signature.ok_or_else(|| {
        Error::bad_request(
            "invalid_signature",
            "the Stripe-Signature header is missing",
        )
    })?;
    use secrecy::ExposeSecret;
    let event = crate::billing::verify_webhook(
        body,
        signature,
        secret.expose_secret().as_bytes(),
        secs(app.clock.now()),
    )
    .map_err(|e| Error::bad_request("invalid_signature", e.to_string()))?;
    handle_event(app, &provider, &event).await?;
    // Noted once handled: an event whose handling failed (answered 5xx) is
    // handled again when the provider sends it again.
    let mut tx = app.store.begin().await?;
    store::billing::webhook_seen(&mut tx, &event.id, &event.kind, app.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

async fn handle_event(
    app: &App,
    provider: &Arc<dyn PaymentProvider>,
    event: &crate::billing::WebhookEvent,
) -> Result<()> {
    if !event.kind.starts_with("payment_intent.")
        || store::billing::webhook_handled(&mut *app.store.conn().await?, &event.id).await?
    {
        return Ok(());
    }
    let Some(intent) = event.object.get("id").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let ours = event
        .object
        .pointer("/metadata/postroom_payment")
        .and_then(|v| v.as_str());
    let payment = {
        let mut c = app.store.conn().await?;
        match store::billing::payment_by_provider_id(&mut c, intent).await? {
            Some(p) => Some(p),
            None => match ours {
                Some(id) => store::billing::payment(&mut c, id).await?,
                None => None,
            },
        }
    };
    let Some(payment) = payment else {
        return Ok(());
    };
    if !matches!(payment.status.as_str(), "pending" | "requires_action") {
        return Ok(());
    }
    match provider.retrieve_charge(intent).await {
        Ok(outcome) => {
            settle(app, &payment.id, &outcome).await?;
            Ok(())
        }
        // Answered 5xx, the provider sends the event again later.
        Err(e) => Err(Error::Internal(anyhow::anyhow!("looking up {intent}: {e}"))),
    }
}

/// Background work due at `now`: renewals of periods that ended, attempts
/// of unpaid invoices, and plans whose last attempt passed. Returns how
/// many teams and invoices it handled.
pub async fn run_due(app: &App) -> Result<usize> {
    let Some(provider) = app.payments() else {
        return Ok(0);
    };
    let now = app.clock.now();
    let mut handled = 0;
    let due = store::billing::due_subscriptions(&mut *app.store.conn().await?, now, ROUND).await?;
    for team_id in due {
        if let Err(e) = renew(app, &team_id).await {
            tracing::error!(team = %team_id, error = ?e, "renewing a subscription failed");
        }
        handled += 1;
    }
    let retries =
        store::billing::invoices_to_retry(&mut *app.store.conn().await?, now, ROUND).await?;
    for invoice in retries {
        if let Err(e) = attempt(app, &provider, &invoice).await {
            tracing::error!(invoice = %invoice.id, error = ?e, "paying an invoice failed");
        }
        handled += 1;
    }
    let window: i64 = RETRY_AFTER_DAYS.iter().sum::<i64>() * DAY;
    let stalled =
        store::billing::stalled_past_due(&mut *app.store.conn().await?, now - window, ROUND)
            .await?;
    for team_id in stalled {
        let mut tx = app.store.begin().await?;
        if let Some(team) = lock_team(&mut tx, &team_id).await? {
            if let Some(inv) = store::billing::open_invoice(&mut tx, &team_id).await? {
                store::billing::settle_invoice(&mut tx, &inv.id, "uncollectible", None).await?;
            }
            end_plan(app, &mut tx, &team, "unpaid", now).await?;
        }
        tx.commit().await?;
        handled += 1;
    }
    Ok(handled)
}

/// Tries the team's open invoices now (with a card just added).
pub(super) async fn retry_team(app: &App, team_id: &str) -> Result<()> {
    let provider = provider(app)?;
    let open = store::billing::open_invoices(&mut *app.store.conn().await?, team_id).await?;
    for invoice in open {
        attempt(app, &provider, &invoice).await?;
    }
    Ok(())
}

/// At a period's end: end a cancelled plan or an unconverted trial, or
/// issue the next period's invoice (paid from the balance first; the rest
/// is charged by [`attempt`]).
async fn renew(app: &App, team_id: &str) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let Some(team) = lock_team(&mut tx, team_id).await? else {
        return Ok(());
    };
    let Some(sub) = store::billing::subscription(&mut tx, team_id).await? else {
        return Ok(());
    };
    if sub.period_end > now || sub.status == "past_due" {
        return Ok(());
    }
    let has_card = store::billing::default_card(&mut tx, team_id)
        .await?
        .is_some();
    if sub.cancel_at_period_end == 1 {
        end_plan(app, &mut tx, &team, "cancelled", now).await?;
    } else if sub.status == "trialing" && !has_card {
        end_plan(app, &mut tx, &team, "trial_ended", now).await?;
    } else {
        renew_period(app, &mut tx, &team, &sub, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn renew_period(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    sub: &SubscriptionRow,
    now: Millis,
) -> Result<()> {
    let mut p = priced(sub);
    p.paid = true;
    let (anchor, period) = if sub.status == "trialing" {
        let start = secs(sub.period_end);
        (
            start,
            Period {
                start,
                end: add_cycles(start, 1, p.cycle),
            },
        )
    } else {
        let anchor = secs(sub.anchor);
        let start = secs(sub.period_end);
        (anchor, money::period_at(anchor, start, p.cycle))
    };
    let lines = [money::renewal_line(&p, period)];
    let balance = store::billing::balance(tx, &team.id).await?;
    let split = money::carry_small_charge(
        money::split(&lines, balance),
        crate::billing::min_card_charge(&sub.currency),
    );
    let invoice = super::invoices::issue(
        app,
        tx,
        team,
        super::invoices::Issue {
            kind: "renewal",
            lines: &lines,
            split,
            period: Some(period),
            paid: split.from_card == 0,
            corrects: None,
            created_by: None,
        },
        now,
    )
    .await?;
    if split.from_card > 0 {
        store::billing::invoice_attempted(tx, &invoice.id, 0, Some(now)).await?;
    }
    let mut next = sub.clone();
    next.status = "active".into();
    next.anchor = ms(anchor);
    next.period_start = ms(period.start);
    next.period_end = ms(period.end);
    next.trial_ends_at = None;
    next.updated_at = now;
    store::billing::put_subscription(tx, &next).await?;
    record(
        tx,
        &team.id,
        None,
        TeamEvent::BillingRenewed {
            plan: sub.plan.clone(),
            seats: sub.seats,
            invoice: invoice.number.clone(),
            amount: split.total,
            currency: sub.currency.clone(),
        },
        now,
    )
    .await?;
    Ok(())
}

/// One attempt at an open invoice: charge the default card for what the
/// balance did not pay.
async fn attempt(
    app: &App,
    _provider: &Arc<dyn PaymentProvider>,
    invoice: &InvoiceRow,
) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let Some(team) = lock_team(&mut tx, &invoice.team_id).await? else {
        return Ok(());
    };
    let Some(inv) = store::billing::invoice_by_id(&mut tx, &invoice.id).await? else {
        return Ok(());
    };
    if inv.status != "open" || inv.next_attempt_at.is_none_or(|t| t > now) {
        return Ok(());
    }
    if !store::billing::unsettled_of_team(&mut tx, &team.id, None, Some(&inv.id))
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let attempts = inv.attempts + 1;
    // In flight: not picked again until the outcome says when.
    store::billing::invoice_attempted(&mut tx, &inv.id, attempts, None).await?;
    let payment = match begin(
        app,
        &mut tx,
        &team,
        "renewal",
        inv.from_card,
        Some(&inv.id),
        None,
        None,
        now,
    )
    .await
    {
        Ok(p) => p,
        Err(Error::PaymentRequired { .. }) => {
            // No card: a failed attempt without a charge.
            let inv = InvoiceRow { attempts, ..inv };
            let none = PaymentRow {
                id: String::new(),
                team_id: team.id.clone(),
                purpose: "renewal".into(),
                invoice_id: Some(inv.id.clone()),
                quote_id: None,
                amount: inv.from_card,
                currency: inv.currency.clone(),
                card_id: None,
                card_label: None,
                provider_id: None,
                client_secret: None,
                status: "failed".into(),
                failure_code: Some("card_required".into()),
                failure_message: None,
                hard_decline: 0,
                created_by: None,
                created_at: now,
                updated_at: now,
            };
            renewal_failed(
                app,
                &mut tx,
                &team,
                &inv,
                &none,
                "the team has no card",
                false,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    charge(app, &payment).await?;
    Ok(())
}

/// Asks the provider about payments whose outcome was never recorded (the
/// answer was lost, or the process stopped between charging and
/// recording): found, it is recorded; not found, it is charged now with the
/// same key, which is the one charge. Runs in the background.
pub async fn reconcile(app: &App) -> Result<usize> {
    let Some(provider) = app.payments() else {
        return Ok(0);
    };
    let now = app.clock.now();
    let rows =
        store::billing::unsettled_payments(&mut *app.store.conn().await?, now - MINUTE, ROUND)
            .await?;
    let mut done = 0;
    for p in rows {
        let outcome = match (&p.provider_id, p.status.as_str()) {
            (Some(intent), _) => provider.retrieve_charge(intent).await.map(Some),
            (None, _) => {
                let customer = store::billing::account(&mut *app.store.conn().await?, &p.team_id)
                    .await?
                    .and_then(|a| a.customer_id)
                    .unwrap_or_default();
                provider.find_charge(&customer, &p.id).await
            }
        };
        match outcome {
            Ok(Some(o)) => {
                // Waiting for the card holder for more than a day: give up.
                let o = match o {
                    ChargeOutcome::RequiresAction { intent, .. } if now - p.created_at > DAY => {
                        ChargeOutcome::Declined {
                            intent: Some(intent),
                            code: "authentication_required".into(),
                            decline_code: None,
                            message: "the card holder did not confirm the payment".into(),
                            hard: false,
                        }
                    }
                    o => o,
                };
                settle(app, &p.id, &o).await?;
            }
            Ok(None) => {
                charge(app, &p).await?;
            }
            Err(e) => {
                tracing::warn!(payment = %p.id, error = %e, "reconciling a payment failed; trying later");
                continue;
            }
        }
        done += 1;
    }
    Ok(done)
}
