//! Changing what the team pays for (B1, B2, B3, T7): previews and quotes,
//! changes of plan, cycle and seats, cancelling and resuming, the trial, and
//! topping up the balance.

use postroom_core::api;
use postroom_core::billing::{
    self as money, add_cycles, change_lines, Cycle, Line, Period, Priced,
};
use postroom_core::TeamEvent;

use super::payments::{self, Settled};
use super::{
    check_seats, free_priced, lock_for, ms, paid_plan, priced, provider, record, secs,
    set_team_plan, views,
};
use crate::clock::{Millis, DAY, MINUTE};
use crate::domain::actor::Actor;
use crate::domain::plans::{self, Plan};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::billing::{PaymentRow, QuoteRow, SubscriptionRow};
use crate::store::{self, new_id, teams::TeamRow, Tx};

/// How long a quote holds its instant and prices.
pub const QUOTE_TTL: Millis = 15 * MINUTE;

/// The smallest and largest top-up, in minor units.
pub const TOP_UP_RANGE: std::ops::RangeInclusive<i64> = 100..=100_000_000;

/// What a change costs, before it is pinned in a quote.
struct Computed {
    new: Priced,
    anchor: i64,
    period: Period,
    lines: Vec<Line>,
    split: money::Split,
    balance: i64,
}

/// The lines of moving the team from `sub` (none: Free) to `new` at `at`
/// (seconds), and how they split against the balance.
fn compute(
    sub: Option<&SubscriptionRow>,
    new: Priced,
    at: i64,
    balance: i64,
    currency: &str,
) -> Computed {
    let old = sub.map(priced).unwrap_or_else(free_priced);
    let current = match sub {
        Some(s) => Period {
            start: secs(s.period_start),
            end: secs(s.period_end),
        },
        None => Period { start: at, end: at },
    };
    let lines = change_lines(&old, &new, current, at);
    let (anchor, period) = if old.paid && old.cycle == new.cycle {
        (secs(sub.map(|s| s.anchor).unwrap_or(0)), current)
    } else {
        (
            at,
            Period {
                start: at,
                end: add_cycles(at, 1, new.cycle),
            },
        )
    };
    let split = money::carry_small_charge(
        money::split(&lines, balance),
        crate::billing::min_card_charge(currency),
    );
    Computed {
        new,
        anchor,
        period,
        lines,
        split,
        balance,
    }
}

fn new_priced(app: &App, plan: Plan, cycle: Cycle, seats: i64) -> Priced {
    Priced {
        plan_id: plan.id.to_owned(),
        plan_name: plan.name.to_owned(),
        cycle,
        seats,
        unit_price: app.settings.catalogue.unit_price(plan, cycle),
        paid: true,
    }
}

/// Refuses a "change" to what the team has already.
fn check_changes(
    sub: Option<&SubscriptionRow>,
    plan: Plan,
    cycle: Cycle,
    seats: i64,
) -> Result<()> {
    if let Some(s) = sub {
        if s.status != "trialing"
            && s.plan == plan.id
            && s.cycle == cycle.as_str()
            && s.seats == seats
        {
            return Err(Error::conflict(
                "no_change",
                None,
                format!(
                    "the team is on {} ({}ly, {seats} seats) already",
                    plan.name,
                    cycle.as_str()
                ),
            ));
        }
        if s.status == "past_due" {
            return Err(Error::conflict(
                "invoice_unpaid",
                None,
                "the last renewal is unpaid: add a card that works (it is tried at once) before changing the plan",
            ));
        }
    }
    Ok(())
}

/// Whether an action needs billing to be on.
#[derive(PartialEq, Eq)]
enum Provider {
    Needed,
    NotNeeded,
}

/// A transaction holding the team's row lock, once `actor` may manage its
/// billing (404 otherwise) and, when the action takes payments, billing is on.
async fn locked(app: &App, actor: &Actor, slug: &str, needs: Provider) -> Result<(Tx, TeamRow)> {
    let mut tx = app.store.begin().await?;
    let access = lock_for(&mut tx, actor, slug).await?;
    if needs == Provider::Needed {
        provider(app)?;
    }
    Ok((tx, access.team))
}

/// Previews a change (B2): the lines, what the balance and the card would
/// pay, pinned in a quote for [`QUOTE_TTL`].
pub async fn preview(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::PreviewRequest,
) -> Result<api::QuoteResponse> {
    let now = app.clock.now();
    let plan = paid_plan(&req.plan)?;
    let cycle = req.cycle;
    let seats = i64::from(req.seats);
    let (mut tx, team) = locked(app, actor, slug, Provider::Needed).await?;
    check_seats(&mut tx, &team, seats, now).await?;
    let sub = store::billing::subscription(&mut tx, &team.id).await?;
    check_changes(sub.as_ref(), plan, cycle, seats)?;
    let balance = store::billing::balance(&mut tx, &team.id).await?;
    let computed = compute(
        sub.as_ref(),
        new_priced(app, plan, cycle, seats),
        secs(now),
        balance,
        &app.settings.catalogue.currency,
    );
    let row = quote_row(app, &team, Some(&actor.user_id), &computed, now);
    store::billing::insert_quote(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(api::QuoteResponse {
        quote: views::quote(&row)?,
    })
}

fn quote_row(
    app: &App,
    team: &TeamRow,
    user_id: Option<&str>,
    c: &Computed,
    now: Millis,
) -> QuoteRow {
    QuoteRow {
        id: new_id(),
        team_id: team.id.clone(),
        user_id: user_id.map(str::to_owned),
        plan: c.new.plan_id.clone(),
        cycle: c.new.cycle.as_str().to_owned(),
        seats: c.new.seats,
        unit_price: c.new.unit_price,
        currency: app.settings.catalogue.currency.clone(),
        at: now,
        anchor: ms(c.anchor),
        period_start: ms(c.period.start),
        period_end: ms(c.period.end),
        lines: views::lines_json(&c.lines),
        subtotal: c.split.subtotal,
        from_balance: c.split.from_balance,
        from_card: c.split.from_card,
        total: c.split.total,
        balance: c.balance,
        expires_at: now + QUOTE_TTL,
        used_at: None,
    }
}

/// Changes the plan, cycle or seats (B2, T7), or takes a cancellation back
/// when they are the same. With `quote`, exactly what it showed is charged;
/// without, the change is priced now. A change the balance pays takes
/// effect at once; one that needs the card takes effect when the card is
/// charged (402 when it is declined or needs the card holder).
pub async fn change(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::ChangeSubscription,
) -> Result<api::SubscriptionResponse> {
    let now = app.clock.now();
    let plan = paid_plan(&req.plan)?;
    let cycle = req.cycle;
    let seats = i64::from(req.seats);
    let (mut tx, team) = locked(app, actor, slug, Provider::Needed).await?;
    let sub = store::billing::subscription(&mut tx, &team.id).await?;
    if let Some(s) = &sub {
        if s.cancel_at_period_end == 1
            && s.plan == plan.id
            && s.cycle == cycle.as_str()
            && s.seats == seats
        {
            tx.rollback().await?;
            return resume(app, actor, slug).await;
        }
    }
    check_seats(&mut tx, &team, seats, now).await?;
    check_changes(sub.as_ref(), plan, cycle, seats)?;
    if !store::billing::unsettled_of_team(&mut tx, &team.id, Some("change"), None)
        .await?
        .is_empty()
    {
        return Err(payment_in_progress());
    }
    let balance = store::billing::balance(&mut tx, &team.id).await?;
    let quote = match req
        .quote
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(id) => {
            let q = store::billing::quote(&mut tx, &team.id, id)
                .await?
                .ok_or(Error::NotFound { what: "quote" })?;
            check_quote(app, &q, sub.as_ref(), plan, cycle, seats, balance, now)?;
            q
        }
        None => {
            let computed = compute(
                sub.as_ref(),
                new_priced(app, plan, cycle, seats),
                secs(now),
                balance,
                &app.settings.catalogue.currency,
            );
            let row = quote_row(app, &team, Some(&actor.user_id), &computed, now);
            store::billing::insert_quote(&mut tx, &row).await?;
            row
        }
    };
    if !store::billing::use_quote(&mut tx, &quote.id, now).await? {
        return Err(quote_used());
    }
    if quote.from_card <= 0 {
        let invoice = apply_quote(app, &mut tx, &team, &quote, Some(&actor.user_id), now).await?;
        let overview = views::overview(app, &mut tx, &team).await?;
        tx.commit().await?;
        return Ok(api::SubscriptionResponse {
            overview,
            invoice: Some(views::invoice(app, &mut *app.store.conn().await?, &invoice).await?),
        });
    }
    let payment = payments::begin(
        app,
        &mut tx,
        &team,
        "change",
        quote.from_card,
        None,
        Some(&quote.id),
        Some(&actor.user_id),
        now,
    )
    .await?;
    tx.commit().await?;
    let settled = payments::charge(app, &payment).await?;
    finish_payment(app, actor, slug, settled).await
}

/// Turns what became of a payment into the answer of the request that
/// made it.
pub(super) async fn finish_payment(
    app: &App,
    actor: &Actor,
    slug: &str,
    settled: Settled,
) -> Result<api::SubscriptionResponse> {
    match settled {
        Settled::Paid { invoice, .. } => {
            let overview = super::overview(app, actor, slug).await?;
            let invoice = match invoice {
                Some(inv) => Some(views::invoice(app, &mut *app.store.conn().await?, &inv).await?),
                None => None,
            };
            Ok(api::SubscriptionResponse { overview, invoice })
        }
        other => Err(other.into_error(app)),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_quote(
    app: &App,
    q: &QuoteRow,
    sub: Option<&SubscriptionRow>,
    plan: Plan,
    cycle: Cycle,
    seats: i64,
    balance: i64,
    now: Millis,
) -> Result<()> {
    if q.used_at.is_some() {
        return Err(quote_used());
    }
    if q.expires_at <= now {
        return Err(Error::conflict(
            "quote_expired",
            Some("quote"),
            "the quote expired (they hold for 15 minutes): preview the change again",
        ));
    }
    if q.plan != plan.id || q.cycle != cycle.as_str() || q.seats != seats {
        return Err(Error::field(
            "quote",
            "quote_mismatch",
            "the quote is for another plan, cycle or number of seats",
        ));
    }
    // The quote still holds when the lines priced at its instant and prices
    // are the ones it shows and the balance is what it was split against.
    let again = compute(
        sub,
        Priced {
            unit_price: q.unit_price,
            ..new_priced(app, plan, cycle, seats)
        },
        secs(q.at),
        q.balance,
        &q.currency,
    );
    if views::lines_json(&again.lines) != q.lines || balance != q.balance {
        return Err(Error::conflict(
            "quote_stale",
            Some("quote"),
            "the balance or the subscription changed since the preview: preview the change again",
        ));
    }
    Ok(())
}

fn quote_used() -> Error {
    Error::conflict(
        "quote_used",
        Some("quote"),
        "this quote was used already: preview the change again",
    )
}

pub(super) fn payment_in_progress() -> Error {
    Error::conflict(
        "payment_in_progress",
        None,
        "a payment for this team is still being processed: wait for it to finish",
    )
}

/// Puts a quoted change into effect, in the caller's transaction: the
/// subscription, the team's plan and seats, a paid invoice, the balance
/// entry and the event. Returns the invoice.
pub(super) async fn apply_quote(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    q: &QuoteRow,
    actor_id: Option<&str>,
    now: Millis,
) -> Result<store::billing::InvoiceRow> {
    let before = store::billing::subscription(tx, &team.id).await?;
    let plan = plans::by_id(&q.plan);
    let lines: Vec<Line> = views::lines_from_json(&q.lines)?;
    let invoice = super::invoices::issue(
        app,
        tx,
        team,
        super::invoices::Issue {
            kind: "subscription",
            lines: &lines,
            split: money::Split {
                subtotal: q.subtotal,
                from_balance: q.from_balance,
                from_card: q.from_card,
                total: q.total,
            },
            period: Some(Period {
                start: secs(q.period_start),
                end: secs(q.period_end),
            }),
            paid: true,
            corrects: None,
            created_by: actor_id,
        },
        now,
    )
    .await?;
    store::billing::put_subscription(
        tx,
        &SubscriptionRow {
            team_id: team.id.clone(),
            plan: q.plan.clone(),
            cycle: q.cycle.clone(),
            seats: q.seats,
            unit_price: q.unit_price,
            currency: q.currency.clone(),
            status: "active".into(),
            anchor: q.anchor,
            period_start: q.period_start,
            period_end: q.period_end,
            cancel_at_period_end: 0,
            trial_ends_at: None,
            created_at: before.as_ref().map(|b| b.created_at).unwrap_or(now),
            updated_at: now,
        },
    )
    .await?;
    set_team_plan(tx, &team.id, plan, q.seats, now).await?;
    record(
        tx,
        &team.id,
        actor_id,
        TeamEvent::BillingSubscriptionChanged {
            from_plan: before
                .as_ref()
                .map(|b| b.plan.clone())
                .unwrap_or_else(|| team.plan.clone()),
            to_plan: q.plan.clone(),
            from_cycle: before.as_ref().map(|b| b.cycle.clone()),
            to_cycle: q.cycle.clone(),
            from_seats: before.as_ref().map(|b| b.seats).unwrap_or(team.seats),
            to_seats: q.seats,
            invoice: Some(invoice.number.clone()),
            amount: q.total,
            currency: q.currency.clone(),
        },
        now,
    )
    .await?;
    Ok(invoice)
}

/// Cancels at the period's end (B4): the plan lasts until then and the team
/// then returns to Free.
pub async fn cancel(app: &App, actor: &Actor, slug: &str) -> Result<api::BillingOverview> {
    let now = app.clock.now();
    let (mut tx, team) = locked(app, actor, slug, Provider::NotNeeded).await?;
    let mut sub = store::billing::subscription(&mut tx, &team.id)
        .await?
        .ok_or_else(|| {
            Error::conflict(
                "no_subscription",
                None,
                "the team is on Free: there is nothing to cancel",
            )
        })?;
    if sub.cancel_at_period_end == 0 {
        sub.cancel_at_period_end = 1;
        sub.updated_at = now;
        store::billing::put_subscription(&mut tx, &sub).await?;
        record(
            &mut tx,
            &team.id,
            Some(&actor.user_id),
            TeamEvent::BillingCancelled {
                ends_at: sub.period_end,
            },
            now,
        )
        .await?;
    }
    let view = views::overview(app, &mut tx, &team).await?;
    tx.commit().await?;
    Ok(view)
}

/// Takes a cancellation back: the subscription renews again.
pub async fn resume(app: &App, actor: &Actor, slug: &str) -> Result<api::SubscriptionResponse> {
    let now = app.clock.now();
    let (mut tx, team) = locked(app, actor, slug, Provider::NotNeeded).await?;
    let mut sub = store::billing::subscription(&mut tx, &team.id)
        .await?
        .ok_or_else(|| Error::conflict("no_subscription", None, "the team is on Free"))?;
    if sub.cancel_at_period_end == 1 {
        sub.cancel_at_period_end = 0;
        sub.updated_at = now;
        store::billing::put_subscription(&mut tx, &sub).await?;
        record(
            &mut tx,
            &team.id,
            Some(&actor.user_id),
            TeamEvent::BillingResumed {},
            now,
        )
        .await?;
    }
    let overview = views::overview(app, &mut tx, &team).await?;
    tx.commit().await?;
    Ok(api::SubscriptionResponse {
        overview,
        invoice: None,
    })
}

/// Starts the team's one trial of Pro (B1): no card, `trial_days` long,
/// with `seats` (default: what the team uses, at least 5).
pub async fn start_trial(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::TrialRequest,
) -> Result<api::BillingOverview> {
    let now = app.clock.now();
    let days = app.settings.catalogue.trial_days;
    if days == 0 {
        return Err(Error::conflict(
            "trial_unavailable",
            None,
            "this server offers no trial",
        ));
    }
    let (mut tx, team) = locked(app, actor, slug, Provider::Needed).await?;
    let account = store::billing::ensure_account(
        &mut tx,
        &team.id,
        &team.name,
        &app.settings.catalogue.currency,
        now,
    )
    .await?;
    if account.trial_used_at.is_some()
        || store::billing::subscription(&mut tx, &team.id)
            .await?
            .is_some()
    {
        return Err(Error::conflict(
            "trial_used",
            None,
            "a team may try a paid plan once, from Free",
        ));
    }
    let counts = store::teams::seat_counts(&mut tx, &team.id, now).await?;
    let seats = req
        .seats
        .unwrap_or((counts.members + counts.pending_invites).max(5));
    check_seats(&mut tx, &team, seats, now).await?;
    let plan = plans::TRIAL;
    let ends = now + i64::from(days) * DAY;
    store::billing::put_subscription(
        &mut tx,
        &SubscriptionRow {
            team_id: team.id.clone(),
            plan: plan.id.into(),
            cycle: Cycle::Month.as_str().into(),
            seats,
            unit_price: app.settings.catalogue.unit_price(plan, Cycle::Month),
            currency: app.settings.catalogue.currency.clone(),
            status: "trialing".into(),
            anchor: now,
            period_start: now,
            period_end: ends,
            cancel_at_period_end: 0,
            trial_ends_at: Some(ends),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    store::billing::mark_trial_used(&mut tx, &team.id, now).await?;
    set_team_plan(&mut tx, &team.id, plan, seats, now).await?;
    record(
        &mut tx,
        &team.id,
        Some(&actor.user_id),
        TeamEvent::BillingTrialStarted {
            plan: plan.id.into(),
            seats,
            ends_at: ends,
        },
        now,
    )
    .await?;
    let view = views::overview(app, &mut tx, &team).await?;
    tx.commit().await?;
    Ok(view)
}

/// Adds money to the balance with the default card (B3).
pub async fn top_up(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::TopUpRequest,
) -> Result<api::TopUpResponse> {
    let now = app.clock.now();
    if !TOP_UP_RANGE.contains(&req.amount) {
        return Err(Error::field(
            "amount",
            "invalid_amount",
            format!(
                "amount must be from {} to {} minor units",
                TOP_UP_RANGE.start(),
                TOP_UP_RANGE.end()
            ),
        ));
    }
    let (mut tx, team) = locked(app, actor, slug, Provider::Needed).await?;
    let payment: PaymentRow = payments::begin(
        app,
        &mut tx,
        &team,
        "top_up",
        req.amount,
        None,
        None,
        Some(&actor.user_id),
        now,
    )
    .await?;
    if !store::billing::unsettled_of_team(&mut tx, &team.id, Some("top_up"), None)
        .await?
        .iter()
        .all(|p| p.id == payment.id)
    {
        return Err(payment_in_progress());
    }
    tx.commit().await?;
    match payments::charge(app, &payment).await? {
        Settled::Paid { payment, .. } => {
            let balance = store::billing::balance(&mut *app.store.conn().await?, &team.id).await?;
            Ok(api::TopUpResponse {
                payment: views::payment(&payment),
                balance: money::Money::new(balance, payment.currency.clone()),
            })
        }
        other => Err(other.into_error(app)),
    }
}
