//! The JSON shapes of `/api/v1/plans` and `/api/v1/teams/{team}/billing`
//! (B1-B10, T7). Amounts are `Money` everywhere: integer minor units with
//! their currency.

use serde::{Deserialize, Serialize};

use super::SeatUsage;
use crate::billing::{rfc3339, Cycle, Line, Money, Period};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `GET /api/v1/plans`: the operator's catalogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlanList {
    pub plans: Vec<PlanInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlanInfo {
    /// `free`, `pro`, `business`, `enterprise`.
    pub id: String,
    pub name: String,
    /// Per seat per cycle.
    pub prices: PlanPrices,
    /// The most members the plan allows; absent when only the seats bought
    /// limit it.
    pub max_members: Option<u32>,
    /// Sign-in through the team's own identity provider.
    pub sso: bool,
    /// Days of free trial a team may start without a card.
    pub trial_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlanPrices {
    pub month: Money,
    pub year: Money,
}

/// A billing period; `end` is not part of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PeriodView {
    pub start: String,
    pub end: String,
}

impl From<Period> for PeriodView {
    fn from(p: Period) -> PeriodView {
        PeriodView {
            start: rfc3339(p.start),
            end: rfc3339(p.end),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// On Free: nothing to pay.
    Free,
    /// On a trial of a paid plan, without a card; ends at `trial_ends_at`.
    Trialing,
    /// Paid up to the end of the period.
    Active,
    /// A renewal is unpaid and being retried; the plan ends after the last
    /// try.
    PastDue,
}

/// `GET /api/v1/teams/{team}/billing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BillingOverview {
    /// The plan's id.
    pub plan: String,
    /// Absent on Free.
    pub cycle: Option<Cycle>,
    pub seats: SeatUsage,
    pub status: SubscriptionStatus,
    /// The period paid for (or the trial); absent on Free.
    pub period: Option<PeriodView>,
    /// Positive: credit the next invoices are paid from first.
    pub balance: Money,
    /// What the next renewal will charge, as things stand; absent when
    /// nothing renews.
    pub upcoming_invoice: Option<InvoiceView>,
    /// The latest payments, newest first.
    pub recent_payments: Vec<PaymentView>,
    /// Where invoices and payment problems are mailed; absent: the team's
    /// admins.
    pub billing_email: Option<String>,
    pub details: BillingDetails,
    /// Cancelled: the plan lasts to the period's end and the team then
    /// returns to Free.
    pub cancel_at_period_end: bool,
    pub trial_ends_at: Option<String>,
    /// False when no payment provider is configured: the operator sets plans
    /// and nothing is charged here.
    pub provider: bool,
}

/// Who invoices are made out to; each field is printed as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BillingDetails {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub address_line2: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// An ISO 3166 country code or name.
    #[serde(default)]
    pub country: Option<String>,
    /// A VAT or other tax number.
    #[serde(default)]
    pub tax_id: Option<String>,
}

/// `PATCH /api/v1/teams/{team}/billing`; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateBilling {
    #[serde(default)]
    pub billing_email: Option<String>,
    /// Replaces all the details.
    #[serde(default)]
    pub details: Option<BillingDetails>,
}

/// `POST /api/v1/teams/{team}/billing/preview`: what changing to this plan,
/// cycle and seat count would cost now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PreviewRequest {
    pub plan: String,
    pub cycle: Cycle,
    pub seats: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct QuoteResponse {
    pub quote: Quote,
}

/// A priced change, pinned (instant, prices and balance) until `expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Quote {
    /// Pass as `quote` to `PUT .../subscription` to be charged exactly this.
    pub id: String,
    pub expires_at: String,
    pub lines: Vec<LineView>,
    /// The sum of the lines; negative for a downgrade, whose credit goes to
    /// the balance.
    pub subtotal: Money,
    pub from_balance: Money,
    pub from_card: Money,
    /// `from_balance + from_card`: what the change costs now.
    pub total: Money,
}

/// A line of a quote or an invoice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LineView {
    pub description: String,
    pub amount: Money,
    pub period: PeriodView,
    /// Part of a period, charged or credited on a change.
    pub proration: bool,
}

impl LineView {
    pub fn new(line: &Line, currency: &str) -> LineView {
        LineView {
            description: line.description.clone(),
            amount: Money::new(line.amount, currency),
            period: line.period.into(),
            proration: line.proration,
        }
    }
}

/// `PUT /api/v1/teams/{team}/billing/subscription`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangeSubscription {
    pub plan: String,
    pub cycle: Cycle,
    pub seats: u32,
    /// A quote from the preview: the change then charges exactly it, or is
    /// refused (409 `quote_stale`) if it expired or the balance moved.
    #[serde(default)]
    pub quote: Option<String>,
}

/// The answer to a change of subscription: the overview as it now stands,
/// and the invoice the change issued, if it cost or credited anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SubscriptionResponse {
    pub overview: BillingOverview,
    pub invoice: Option<InvoiceView>,
}

/// What Stripe's page script needs to finish a payment that the card's bank
/// wants confirmed (3-D Secure): it goes with 402 `authentication_required`,
/// and the change or top-up applies once the payment succeeds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentAction {
    /// Our payment's id: once the card holder confirmed, ask for it again
    /// with `POST .../billing/payments/{payment_id}/refresh`.
    pub payment_id: String,
    pub client_secret: String,
    pub publishable_key: String,
}

/// `POST /api/v1/teams/{team}/billing/top-ups`: charge the default card and
/// add the amount to the balance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    /// Minor units of the team's currency; positive.
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TopUpResponse {
    pub payment: PaymentView,
    /// The balance after the top-up.
    pub balance: Money,
}

/// `POST /api/v1/teams/{team}/billing/cards`: a payment method that Stripe's
/// card element created in the browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddCard {
    pub payment_method: String,
}

/// A card, as much of it as Postroom keeps; the number stays at Stripe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CardView {
    pub id: String,
    /// `visa`, `mastercard`, `amex`, ...
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// The card invoices are charged to.
    pub default: bool,
    /// Past its expiry month: it cannot be charged.
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CardList {
    pub cards: Vec<CardView>,
    /// What Stripe.js needs to make a card in the browser; absent without a
    /// payment provider.
    pub publishable_key: Option<String>,
}

/// `POST /api/v1/teams/{team}/billing/trial`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrialRequest {
    /// Seats for the trial (default: what the team uses, at least 5).
    #[serde(default)]
    pub seats: Option<i64>,
}

/// One event of a team's billing history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HistoryEntry {
    pub at: String,
    /// `seats_changed`, `plan_changed`, `payment`, `payment_failed`,
    /// `top_up`, `card_added`, `card_removed`, `default_card`, `cancelled`,
    /// ...
    pub kind: String,
    pub description: String,
    pub amount: Option<Money>,
    /// The username of whoever did it; absent for renewals and the operator.
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HistoryPage {
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not yet issued: the upcoming invoice.
    Draft,
    /// Issued and not yet paid in full.
    Open,
    Paid,
    /// Cancelled by a credit note.
    Void,
    /// Never paid: its last payment attempt failed and the plan ended.
    Uncollectible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    Invoice,
    /// Corrects an issued invoice, which is never changed.
    CreditNote,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceView {
    pub id: String,
    /// Gapless, given when issued; absent on the upcoming invoice.
    pub number: Option<String>,
    pub kind: InvoiceKind,
    pub status: InvoiceStatus,
    /// For the upcoming invoice, when it will be issued.
    pub issued_at: String,
    /// The span its lines cover; absent when they cover none (a top-up).
    pub period: Option<PeriodView>,
    pub lines: Vec<LineView>,
    /// The sum of the lines.
    pub subtotal: Money,
    pub from_balance: Money,
    pub from_card: Money,
    pub total: Money,
    pub currency: String,
    pub paid_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceList {
    /// Newest first.
    pub invoices: Vec<InvoiceView>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Sent to the provider; its outcome is not known yet.
    Pending,
    /// Waiting for the card holder to confirm it with their bank.
    RequiresAction,
    Succeeded,
    Failed,
    Refunded,
}

/// A charge to a card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentView {
    pub id: String,
    pub at: String,
    pub amount: Money,
    pub status: PaymentStatus,
    /// The card charged, for people: "Visa •••• 4242".
    pub card: Option<String>,
    /// The id of the invoice it paid; absent for a top-up.
    pub invoice: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_carry_the_currency_and_rfc3339_periods() {
        let line = Line {
            description: "Unused time on Pro × 5 seats after Dec 7, 2026".to_owned(),
            amount: -4839,
            period: Period {
                start: 1_796_601_600,
                end: 1_798_761_600,
            },
            proration: true,
        };
        assert_eq!(
            serde_json::to_value(LineView::new(&line, "usd")).unwrap(),
            json!({
                "description": "Unused time on Pro × 5 seats after Dec 7, 2026",
                "amount": {"amount": -4839, "currency": "usd"},
                "period": {"start": "2026-12-07T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
                "proration": true,
            })
        );
    }

    #[test]
    fn requests_parse_and_refuse_strangers() {
        let r: PreviewRequest =
            serde_json::from_value(json!({"plan": "pro", "cycle": "year", "seats": 5})).unwrap();
        assert_eq!((r.plan.as_str(), r.cycle, r.seats), ("pro", Cycle::Year, 5));
        assert!(serde_json::from_value::<PreviewRequest>(
            json!({"plan": "pro", "cycle": "weekly", "seats": 5})
        )
        .is_err());
        let u: UpdateBilling =
            serde_json::from_value(json!({"details": {"name": "Acme", "tax_id": "DE123"}}))
                .unwrap();
        assert_eq!(u.billing_email, None);
        assert_eq!(u.details.unwrap().tax_id.as_deref(), Some("DE123"));
        assert!(serde_json::from_value::<UpdateBilling>(json!({"email": "a@b.c"})).is_err());
        assert!(serde_json::from_value::<TopUpRequest>(json!({"amount": 500})).is_ok());
        let c: ChangeSubscription =
            serde_json::from_value(json!({"plan": "free", "cycle": "month", "seats": 3})).unwrap();
        assert_eq!(c.quote, None);
    }

    #[test]
    fn statuses_are_snake_case() {
        assert_eq!(
            serde_json::to_value(SubscriptionStatus::PastDue).unwrap(),
            json!("past_due")
        );
        assert_eq!(
            serde_json::to_value(InvoiceKind::CreditNote).unwrap(),
            json!("credit_note")
        );
        assert_eq!(
            serde_json::to_value(PaymentStatus::RequiresAction).unwrap(),
            json!("requires_action")
        );
    }
}
