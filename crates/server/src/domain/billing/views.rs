//! Billing rows as the API shows them, and the checks of what people type
//! into billing details.

use postroom_core::api;
use postroom_core::billing::{self as money, rfc3339 as rfc3339_secs, Cycle, Line, Money, Period};
use serde::{Deserialize, Serialize};

use super::{plans, priced, secs};
use crate::clock::{rfc3339, Millis};
use crate::domain::plans::Catalogue;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::billing::{CardRow, HistoryRow, InvoiceRow, PaymentRow};
use crate::store::{self, teams::TeamRow, Conn};

pub(super) fn plan_list(c: &Catalogue) -> api::PlanList {
    let money = |amount| Money::new(amount, c.currency.clone());
    api::PlanList {
        plans: plans::ALL
            .iter()
            .map(|p| api::PlanInfo {
                id: p.id.into(),
                name: p.name.into(),
                prices: api::PlanPrices {
                    month: money(c.unit_price(*p, Cycle::Month)),
                    year: money(c.unit_price(*p, Cycle::Year)),
                },
                max_members: (*p == plans::FREE).then_some(p.seats as u32),
                sso: p.sso,
                trial_days: (*p == plans::TRIAL && c.trial_days > 0).then_some(c.trial_days),
            })
            .collect(),
    }
}

/// "Visa •••• 4242".
pub fn card_label(brand: &str, last4: &str) -> String {
    let brand = match brand {
        "visa" => "Visa".to_owned(),
        "mastercard" => "Mastercard".to_owned(),
        "amex" => "American Express".to_owned(),
        "discover" => "Discover".to_owned(),
        "jcb" => "JCB".to_owned(),
        "diners" => "Diners Club".to_owned(),
        "unionpay" => "UnionPay".to_owned(),
        other => {
            let mut c = other.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => "Card".to_owned(),
            }
        }
    };
    format!("{brand} •••• {last4}")
}

pub(super) fn card(r: &CardRow, now: Millis) -> api::CardView {
    // A card works through the last day of its expiry month.
    let (year, month) = crate::clock::year_month(now);
    let expired = (r.exp_year, r.exp_month) < (i64::from(year), i64::from(month));
    api::CardView {
        id: r.id.clone(),
        brand: r.brand.clone(),
        last4: r.last4.clone(),
        exp_month: r.exp_month.clamp(0, 12) as u32,
        exp_year: r.exp_year.clamp(0, 9999) as u32,
        default: r.is_default == 1,
        expired,
    }
}

pub(super) fn payment(p: &PaymentRow) -> api::PaymentView {
    api::PaymentView {
        id: p.id.clone(),
        at: rfc3339(p.created_at),
        amount: Money::new(p.amount, p.currency.clone()),
        status: match p.status.as_str() {
            "succeeded" => api::PaymentStatus::Succeeded,
            "failed" => api::PaymentStatus::Failed,
            "requires_action" => api::PaymentStatus::RequiresAction,
            _ => api::PaymentStatus::Pending,
        },
        card: p.card_label.clone(),
        invoice: p.invoice_id.clone(),
    }
}

/// A line as stored in a quote.
#[derive(Serialize, Deserialize)]
struct StoredLine {
    description: String,
    amount: i64,
    start: i64,
    end: i64,
    proration: bool,
}

pub(super) fn lines_json(lines: &[Line]) -> String {
    let stored: Vec<StoredLine> = lines
        .iter()
        .map(|l| StoredLine {
            description: l.description.clone(),
            amount: l.amount,
            start: l.period.start,
            end: l.period.end,
            proration: l.proration,
        })
        .collect();
    serde_json::to_string(&stored).expect("lines serialize")
}

pub(super) fn lines_from_json(json: &str) -> Result<Vec<Line>> {
    let stored: Vec<StoredLine> = serde_json::from_str(json).map_err(anyhow::Error::from)?;
    Ok(stored
        .into_iter()
        .map(|s| Line {
            description: s.description,
            amount: s.amount,
            period: Period {
                start: s.start,
                end: s.end,
            },
            proration: s.proration,
        })
        .collect())
}

pub(super) fn quote(q: &store::billing::QuoteRow) -> Result<api::Quote> {
    let cur = &q.currency;
    Ok(api::Quote {
        id: q.id.clone(),
        expires_at: rfc3339(q.expires_at),
        lines: lines_from_json(&q.lines)?
            .iter()
            .map(|l| api::LineView::new(l, cur))
            .collect(),
        subtotal: Money::new(q.subtotal, cur.clone()),
        from_balance: Money::new(q.from_balance, cur.clone()),
        from_card: Money::new(q.from_card, cur.clone()),
        total: Money::new(q.total, cur.clone()),
    })
}

fn invoice_status(s: &str) -> api::InvoiceStatus {
    match s {
        "paid" => api::InvoiceStatus::Paid,
        "uncollectible" => api::InvoiceStatus::Uncollectible,
        _ => api::InvoiceStatus::Open,
    }
}

pub(super) async fn invoice(_app: &App, c: &mut Conn, r: &InvoiceRow) -> Result<api::InvoiceView> {
    let cur = &r.currency;
    let lines = store::billing::invoice_lines(c, &r.id).await?;
    Ok(api::InvoiceView {
        id: r.id.clone(),
        number: Some(r.number.clone()),
        kind: if r.kind == "credit_note" {
            api::InvoiceKind::CreditNote
        } else {
            api::InvoiceKind::Invoice
        },
        status: invoice_status(&r.status),
        issued_at: rfc3339(r.issued_at),
        period: match (r.period_start, r.period_end) {
            (Some(s), Some(e)) => Some(api::PeriodView {
                start: rfc3339(s),
                end: rfc3339(e),
            }),
            _ => None,
        },
        lines: lines
            .iter()
            .map(|l| api::LineView {
                description: l.description.clone(),
                amount: Money::new(l.amount, cur.clone()),
                period: api::PeriodView {
                    start: rfc3339(l.period_start),
                    end: rfc3339(l.period_end),
                },
                proration: l.proration == 1,
            })
            .collect(),
        subtotal: Money::new(r.subtotal, cur.clone()),
        from_balance: Money::new(r.from_balance, cur.clone()),
        from_card: Money::new(r.from_card, cur.clone()),
        total: Money::new(r.total, cur.clone()),
        currency: cur.clone(),
        paid_at: r.paid_at.map(rfc3339),
    })
}

/// The overview (B4), read in the caller's connection or transaction.
pub(super) async fn overview(
    app: &App,
    c: &mut Conn,
    team: &TeamRow,
) -> Result<api::BillingOverview> {
    let now = app.clock.now();
    let currency = app.settings.catalogue.currency.clone();
    let team = store::teams::by_id(c, &team.id)
        .await?
        .unwrap_or_else(|| team.clone());
    let counts = store::teams::seat_counts(c, &team.id, now).await?;
    let used = counts.members + counts.pending_invites;
    let seats = postroom_core::api::SeatUsage {
        total: team.seats.max(0) as u32,
        members: counts.members.max(0) as u32,
        pending_invites: counts.pending_invites.max(0) as u32,
        available: (team.seats - used).max(0) as u32,
    };
    let account = store::billing::account(c, &team.id).await?;
    let sub = store::billing::subscription(c, &team.id).await?;
    let balance = store::billing::balance(c, &team.id).await?;
    let payments = store::billing::recent_payments(c, &team.id, super::RECENT_PAYMENTS).await?;
    let upcoming = match &sub {
        Some(s)
            if s.cancel_at_period_end == 0
                && !(s.status == "trialing"
                    && store::billing::default_card(c, &team.id).await?.is_none()) =>
        {
            let mut p = priced(s);
            p.paid = true;
            let period = if s.status == "trialing" {
                Period {
                    start: secs(s.period_end),
                    end: money::add_cycles(secs(s.period_end), 1, p.cycle),
                }
            } else {
                money::period_at(secs(s.anchor), secs(s.period_end), p.cycle)
            };
            let lines = [money::renewal_line(&p, period)];
            let split = money::carry_small_charge(
                money::split(&lines, balance),
                crate::billing::min_card_charge(&s.currency),
            );
            Some(api::InvoiceView {
                id: "upcoming".into(),
                number: None,
                kind: api::InvoiceKind::Invoice,
                status: api::InvoiceStatus::Draft,
                issued_at: rfc3339_secs(period.start),
                period: Some(period.into()),
                lines: lines
                    .iter()
                    .map(|l| api::LineView::new(l, &s.currency))
                    .collect(),
                subtotal: Money::new(split.subtotal, s.currency.clone()),
                from_balance: Money::new(split.from_balance, s.currency.clone()),
                from_card: Money::new(split.from_card, s.currency.clone()),
                total: Money::new(split.total, s.currency.clone()),
                currency: s.currency.clone(),
                paid_at: None,
            })
        }
        _ => None,
    };
    let details = account
        .as_ref()
        .and_then(|a| serde_json::from_str(&a.details).ok())
        .unwrap_or_default();
    Ok(api::BillingOverview {
        plan: team.plan.clone(),
        cycle: sub.as_ref().and_then(|s| Cycle::parse(&s.cycle)),
        seats,
        status: match sub.as_ref().map(|s| s.status.as_str()) {
            None => api::SubscriptionStatus::Free,
            Some("trialing") => api::SubscriptionStatus::Trialing,
            Some("past_due") => api::SubscriptionStatus::PastDue,
            Some(_) => api::SubscriptionStatus::Active,
        },
        period: sub.as_ref().map(|s| api::PeriodView {
            start: rfc3339(s.period_start),
            end: rfc3339(s.period_end),
        }),
        balance: Money::new(balance, currency),
        upcoming_invoice: upcoming,
        recent_payments: payments.iter().map(payment).collect(),
        billing_email: account.as_ref().and_then(|a| a.billing_email.clone()),
        details,
        cancel_at_period_end: sub.as_ref().is_some_and(|s| s.cancel_at_period_end == 1),
        trial_ends_at: sub.as_ref().and_then(|s| s.trial_ends_at).map(rfc3339),
        provider: app.payments().is_some(),
    })
}

pub(super) fn history_entry(r: HistoryRow) -> api::HistoryEntry {
    use postroom_core::{Stored, TeamEvent};
    let event = TeamEvent::from_stored(&r.kind, &r.data);
    let amount = match &event {
        Some(TeamEvent::BillingSubscriptionChanged {
            amount, currency, ..
        })
        | Some(TeamEvent::BillingRenewed {
            amount, currency, ..
        })
        | Some(TeamEvent::BillingPaymentSucceeded {
            amount, currency, ..
        })
        | Some(TeamEvent::BillingPaymentFailed {
            amount, currency, ..
        })
        | Some(TeamEvent::BillingToppedUp {
            amount, currency, ..
        }) => Some(Money::new(*amount, currency.clone())),
        _ => None,
    };
    let kind = r
        .kind
        .strip_prefix("billing_")
        .unwrap_or(&r.kind)
        .to_owned();
    let description = match &event {
        Some(e) => super::describe(e, r.actor_username.as_deref()),
        None => r.kind.clone(),
    };
    api::HistoryEntry {
        at: rfc3339(r.created_at),
        kind,
        description,
        amount,
        actor: r.actor_username,
    }
}

/// Bounds for the details printed on invoices: each field one line of at
/// most 200 characters.
pub(super) fn check_details(d: api::BillingDetails) -> Result<api::BillingDetails> {
    let field = |name: &str, v: Option<String>| -> Result<Option<String>> {
        match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) if s.chars().count() > 200 || s.chars().any(char::is_control) => {
                Err(Error::field(
                    &format!("details.{name}"),
                    "invalid_details",
                    format!("{name} must be one line of at most 200 characters"),
                ))
            }
            Some(s) => Ok(Some(s)),
        }
    };
    Ok(api::BillingDetails {
        name: field("name", d.name)?,
        address_line1: field("address_line1", d.address_line1)?,
        address_line2: field("address_line2", d.address_line2)?,
        postal_code: field("postal_code", d.postal_code)?,
        city: field("city", d.city)?,
        region: field("region", d.region)?,
        country: field("country", d.country)?,
        tax_id: field("tax_id", d.tax_id)?,
    })
}
