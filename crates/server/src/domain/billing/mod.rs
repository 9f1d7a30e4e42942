//! Plans and billing (B1-B10, T7): Postroom keeps the subscriptions, the
//! balance ledger, proration and invoices; the payment provider
//! ([`crate::billing::PaymentProvider`], Stripe) holds the cards and moves
//! the money.
//!
//! - The arithmetic is pure, in `postroom_core::billing`: lines, proration to
//!   the second, rounding once, the split between balance and card.
//! - Every write runs under the team's row lock ([`policy::authorize_locked`]
//!   or [`lock_team`]) and records its event in the team's scope, which is
//!   both the billing history (B7) and the audit log (T9).
//! - A charge is a `payments` row written before the provider is asked; its
//!   id is the provider's idempotency key. What the answer says is recorded
//!   by [`payments::settle`], which only moves a payment out of `pending` /
//!   `requires_action` once, so a webhook, a retry and the request itself can
//!   race without charging or recording twice. An answer lost in a crash is
//!   found again by [`payments::reconcile`].
//! - A change that needs a card payment takes effect when it is paid; a
//!   change paid from the balance alone takes effect at once.
//!
//! The modules: `subscription` (preview, change, cancel, trial, top-up),
//! `idempotency` (the keys of requests that move money, for the API and
//! the pages alike), `payments` (charging, settling, renewals and retries, webhooks,
//! reconciling), `cards`, `invoices` (issuing, reading, the PDF, closing a
//! deleted team's account) and `views` (rows to wire types).

mod cards;
pub mod idempotency;
mod invoices;
mod payments;
mod subscription;
mod views;

use std::sync::Arc;

use postroom_core::api;
use postroom_core::billing::{Cycle, Priced};
use postroom_core::{Stored, TeamEvent};

pub use cards::{add_card, card_setup, cards, remove_card, set_default_card};
pub use invoices::{close_for_deletion, invoice, invoice_pdf, invoices};
pub use payments::{reconcile, refresh_payment, run_due, webhook, RETRY_AFTER_DAYS};
pub use subscription::{cancel, change, preview, resume, start_trial, top_up, QUOTE_TTL};

use super::actor::Actor;
use super::plans::{self, Plan};
use super::policy::{self, Access, TeamAction};
use crate::billing::PaymentProvider;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, billing::SubscriptionRow, teams::TeamRow, Tx};

/// Recent payments the overview shows.
const RECENT_PAYMENTS: i64 = 5;

/// Seats a paid plan may have.
pub const MAX_SEATS: i64 = 10_000;

pub(crate) fn scope(team_id: &str) -> String {
    format!("team:{team_id}")
}

fn secs(ms: Millis) -> i64 {
    ms.div_euclid(1000)
}

fn ms(secs: i64) -> Millis {
    secs.saturating_mul(1000)
}

/// The provider, or the answer for a server where the operator sets plans.
fn provider(app: &App) -> Result<Arc<dyn PaymentProvider>> {
    app.payments().ok_or_else(|| {
        Error::conflict(
            "billing_off",
            None,
            "billing is managed by the operator of this server: ask them to change the plan",
        )
    })
}

/// What a subscription row holds, as the proration code takes it.
fn priced(s: &SubscriptionRow) -> Priced {
    let plan = plans::by_id(&s.plan);
    Priced {
        plan_id: plan.id.to_owned(),
        plan_name: plan.name.to_owned(),
        cycle: Cycle::parse(&s.cycle).unwrap_or(Cycle::Month),
        seats: s.seats,
        unit_price: s.unit_price,
        paid: s.status != "trialing",
    }
}

/// Free, as a starting point of a change.
fn free_priced() -> Priced {
    Priced {
        plan_id: plans::FREE.id.to_owned(),
        plan_name: plans::FREE.name.to_owned(),
        cycle: Cycle::Month,
        seats: plans::FREE.seats,
        unit_price: 0,
        paid: false,
    }
}

/// A paid plan by id, for input that must name one.
fn paid_plan(id: &str) -> Result<Plan> {
    match plans::parse(id) {
        Some(p) if p != plans::FREE => Ok(p),
        Some(_) => Err(Error::field(
            "plan",
            "invalid_plan",
            "to return to Free, cancel the subscription (DELETE .../billing/subscription): it ends at the period's end",
        )),
        None => Err(Error::field(
            "plan",
            "invalid_plan",
            "plan must be one of pro, business, enterprise",
        )),
    }
}

/// Seats for a paid plan: from 1 to [`MAX_SEATS`], and no fewer than the
/// team uses (members holding a seat and pending invites).
async fn check_seats(tx: &mut Tx, team: &TeamRow, seats: i64, now: Millis) -> Result<()> {
    if !(1..=MAX_SEATS).contains(&seats) {
        return Err(Error::field(
            "seats",
            "invalid_seats",
            format!("seats must be from 1 to {MAX_SEATS}"),
        ));
    }
    let counts = store::teams::seat_counts(tx, &team.id, now).await?;
    let used = counts.members + counts.pending_invites;
    if seats < used {
        return Err(Error::conflict(
            "seats_below_members",
            Some("seats"),
            format!(
                "the team uses {used} seats (members and pending invites): remove members or cancel invites first, or keep at least {used}"
            ),
        ));
    }
    Ok(())
}

/// Authorizes `actor` to manage the team's billing, in a transaction that
/// holds the team's row lock.
async fn lock_for(tx: &mut Tx, actor: &Actor, slug: &str) -> Result<Access> {
    policy::authorize_locked(tx, actor, slug, TeamAction::ManageBilling).await
}

/// Takes the team's row lock for work nobody asked for in a request
/// (renewals, webhooks); None when the team is gone.
async fn lock_team(tx: &mut Tx, team_id: &str) -> Result<Option<TeamRow>> {
    Ok(store::teams::lock(tx, team_id).await?)
}

async fn record(
    tx: &mut Tx,
    team_id: &str,
    actor_id: Option<&str>,
    event: TeamEvent,
    now: Millis,
) -> Result<()> {
    store::events::record(tx, &scope(team_id), actor_id, &event, now).await?;
    Ok(())
}

/// Sets the plan and seats the team rules read (`teams.plan`, `teams.seats`).
async fn set_team_plan(
    tx: &mut Tx,
    team_id: &str,
    plan: Plan,
    seats: i64,
    now: Millis,
) -> Result<()> {
    store::operator::set_plan(tx, team_id, plan.id, seats, now).await?;
    Ok(())
}

/// The catalogue, as `GET /api/v1/plans` shows it.
pub fn plans(app: &App) -> api::PlanList {
    views::plan_list(&app.settings.catalogue)
}

/// The billing overview (B4).
pub async fn overview(app: &App, actor: &Actor, slug: &str) -> Result<api::BillingOverview> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
    views::overview(app, &mut c, &access.team).await
}

/// Sets the billing email and the details printed on invoices.
pub async fn update(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::UpdateBilling,
) -> Result<api::BillingOverview> {
    let now = app.clock.now();
    let email = match req.billing_email.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(s) => Some(Some(
            postroom_core::Email::parse(s)
                .map_err(|e| Error::field("billing_email", "invalid_email", e.0))?
                .as_str()
                .to_owned(),
        )),
    };
    let details = match req.details {
        Some(d) => Some(views::check_details(d)?),
        None => None,
    };
    let mut tx = app.store.begin().await?;
    let access = lock_for(&mut tx, actor, slug).await?;
    let team = &access.team;
    let account = store::billing::ensure_account(
        &mut tx,
        &team.id,
        &team.name,
        &app.settings.catalogue.currency,
        now,
    )
    .await?;
    let email = email.unwrap_or(account.billing_email.clone());
    let details = match details {
        Some(d) => serde_json::to_string(&d).map_err(anyhow::Error::from)?,
        None => account.details.clone(),
    };
    if email != account.billing_email || details != account.details {
        store::billing::update_account(
            &mut tx,
            &team.id,
            &team.name,
            email.as_deref(),
            &details,
            now,
        )
        .await?;
        record(
            &mut tx,
            &team.id,
            Some(&actor.user_id),
            TeamEvent::BillingDetailsChanged {},
            now,
        )
        .await?;
    }
    let view = views::overview(app, &mut tx, team).await?;
    tx.commit().await?;
    Ok(view)
}

/// The billing history (B7): the team's billing events, newest first.
pub async fn history(
    app: &App,
    actor: &Actor,
    slug: &str,
    before: Option<&str>,
) -> Result<api::HistoryPage> {
    let before = match before.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::bad_request("invalid_cursor", "the cursor is not valid"))?,
        ),
        None => None,
    };
    const PAGE: i64 = 50;
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
    let mut rows =
        store::billing::history(&mut c, &scope(&access.team.id), before, PAGE + 1).await?;
    let next = if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    Ok(api::HistoryPage {
        entries: rows.into_iter().map(views::history_entry).collect(),
        next,
    })
}

/// A billing event in words, for the history and the audit log.
pub fn describe(event: &TeamEvent, who: Option<&str>) -> String {
    use postroom_core::billing::format_money;
    let who = who.unwrap_or("Postroom");
    match event {
        TeamEvent::BillingTrialStarted { plan, seats, .. } => {
            format!(
                "{who} started a trial of {} with {seats} seats",
                plans::by_id(plan).name
            )
        }
        TeamEvent::BillingSubscriptionChanged {
            from_plan,
            to_plan,
            from_cycle,
            to_cycle,
            from_seats,
            to_seats,
            amount,
            currency,
            ..
        } => {
            let (from, to) = (plans::by_id(from_plan).name, plans::by_id(to_plan).name);
            let mut parts = Vec::new();
            if from_plan != to_plan {
                parts.push(format!("the plan from {from} to {to}"));
            }
            if from_cycle.as_deref() != Some(to_cycle.as_str()) && from_cycle.is_some() {
                parts.push(format!("billing to {to_cycle}ly"));
            }
            if from_seats != to_seats {
                parts.push(format!("the seats from {from_seats} to {to_seats}"));
            }
            if parts.is_empty() {
                parts.push(format!(
                    "the subscription to {to} ({to_cycle}ly, {to_seats} seats)"
                ));
            }
            let cost = if *amount < 0 {
                format!(
                    "{} credited to the balance",
                    format_money(-amount, currency)
                )
            } else {
                format!("{} charged", format_money(*amount, currency))
            };
            format!("{who} changed {} ({cost})", parts.join(" and "))
        }
        TeamEvent::BillingRenewed {
            plan,
            seats,
            amount,
            currency,
            ..
        } => format!(
            "{} with {seats} seats renewed for {}",
            plans::by_id(plan).name,
            format_money(*amount, currency)
        ),
        TeamEvent::BillingCancelled { .. } => {
            format!("{who} cancelled the subscription; it ends at the period's end")
        }
        TeamEvent::BillingResumed {} => format!("{who} resumed the subscription"),
        TeamEvent::BillingPlanEnded { plan, reason } => format!(
            "{} ended ({}); the team is on Free",
            plans::by_id(plan).name,
            match reason.as_str() {
                "cancelled" => "cancelled",
                "trial_ended" => "the trial ended without a card",
                "unpaid" => "the renewal could not be paid",
                "team_deleted" => "the team was deleted",
                other => other,
            }
        ),
        TeamEvent::BillingPaymentSucceeded {
            amount,
            currency,
            card,
            ..
        } => format!(
            "Paid {}{}",
            format_money(*amount, currency),
            card.as_deref()
                .map(|c| format!(" with {c}"))
                .unwrap_or_default()
        ),
        TeamEvent::BillingPaymentFailed {
            amount,
            currency,
            card,
            reason,
            ..
        } => format!(
            "A payment of {}{} failed: {reason}",
            format_money(*amount, currency),
            card.as_deref()
                .map(|c| format!(" with {c}"))
                .unwrap_or_default()
        ),
        TeamEvent::BillingToppedUp {
            amount, currency, ..
        } => {
            format!(
                "{who} added {} to the balance",
                format_money(*amount, currency)
            )
        }
        TeamEvent::BillingCardAdded { brand, last4 } => {
            format!("{who} added the card {}", views::card_label(brand, last4))
        }
        TeamEvent::BillingCardRemoved { brand, last4 } => {
            format!("{who} removed the card {}", views::card_label(brand, last4))
        }
        TeamEvent::BillingDefaultCardSet { brand, last4 } => {
            format!(
                "{who} made {} the default card",
                views::card_label(brand, last4)
            )
        }
        TeamEvent::BillingDetailsChanged {} => format!("{who} changed the billing details"),
        TeamEvent::PlanSet { from, to, seats } => format!(
            "The operator moved the team from {} to {} with {seats} seats",
            plans::by_id(from).name,
            plans::by_id(to).name
        ),
        other => other.kind(),
    }
}
