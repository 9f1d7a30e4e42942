//! Taking money: the one door between the billing rules and a card
//! processor. The domain speaks to a [`PaymentProvider`] and never names
//! Stripe; [`Stripe`] is the implementation, a small client of our own over
//! `reqwest` (form-encoded bodies, the secret key as a Bearer token, a
//! configurable base URL), and [`verify_webhook`] checks what Stripe posts
//! back to us.
//!
//! Every charge carries our payment id twice: as the `Idempotency-Key`
//! header, so that a retry of a request whose answer was lost never charges
//! twice, and as `metadata[postroom_payment]` on the PaymentIntent, so that
//! [`PaymentProvider::find_charge`] can find what became of it when the
//! provider keeps no idempotency keys (or has forgotten them: Stripe keeps
//! them for 24 hours).
//!
//! # Stripe as it really answers, and localstripe
//!
//! The integration tests run against localstripe 1.15 (PyPI `localstripe`,
//! `localstripe --port <p> --from-scratch`), a stateful fake that follows an
//! older Stripe API. What it does, read from running it and from its source,
//! and where real Stripe differs, so the client reads leniently (unknown
//! fields are ignored, missing optional ones tolerated):
//!
//! - Authentication: any `Bearer sk_...` key longer than five characters;
//!   no key or another shape is a 401. It listens on every interface (`::`)
//!   and, `--from-scratch` or not, writes its whole state to
//!   `/tmp/localstripe.pickle` after each write (it only reads it back
//!   without `--from-scratch`).
//! - Errors are `{"error": {"type": "invalid_request_error", "message": ...}}`
//!   with a `code` only sometimes, even for a declined card (Stripe says
//!   `card_error` there). Unexpected parameters are refused with a 400
//!   "Unexpected <name>": it refuses `description` on a PaymentIntent, which
//!   is why ours travels as `metadata[postroom_description]`.
//! - Idempotency: **not supported**. It never reads `Idempotency-Key`; the
//!   same request sent twice creates two PaymentIntents and two charges.
//!   `find_charge` therefore looks up the metadata, which works on both.
//! - Listing PaymentIntents: `GET /v1/payment_intents` with `limit` and
//!   `starting_after` only, oldest first; `customer=` is refused with a 400
//!   "Unexpected customer" (Stripe supports it and answers newest first).
//!   `find_charge` asks with the customer filter and, refused so, lists
//!   everything and filters by customer itself.
//! - Customers: `POST /v1/customers` with `email`, `name`, `metadata[..]`.
//! - Cards: `POST /v1/payment_methods` with `type=card`, `card[number]`,
//!   `card[exp_month]`, `card[exp_year]` (2019..2099) and `card[cvc]` (three
//!   digits; the number must have 16). The brand is always `visa`. The test
//!   ids `pm_card_visa`, `pm_card_visa_chargeDeclined` and
//!   `pm_card_chargeCustomerFail` are made into real cards on first use.
//!   Attach with `POST /v1/payment_methods/{id}/attach` (`customer=`),
//!   detach with `.../detach` (which succeeds on a detached card, where
//!   Stripe answers 400). `GET /v1/payment_methods?customer=..&type=card`
//!   lists a customer's cards.
//! - Test cards: 4242424242424242 works. Declined *when attached* (402
//!   `card_declined`, also when a SetupIntent is confirmed with them):
//!   4000000000000002, ...9995, ...9987, ...9979, ...0069, ...0127, ...0119
//!   and 4242424242424241. Declined *when charged* (they attach fine):
//!   4000000000000341, and after 3-D Secure 4000008260003178 and
//!   4000008400001629. 3-D Secure required on every confirm (setup or
//!   payment, on- or off-session alike): 4000002500003155, 4000002760003184,
//!   4000008260003178, 4000000000003220, 4000000000003063, 4000008400001629.
//!   A card unattached to the customer can still be charged: it checks
//!   nothing there.
//! - Charging: `POST /v1/payment_intents` with `amount` (> 0), `currency`,
//!   `customer`, `payment_method`, `payment_method_types[]`,
//!   `metadata[..]`, `confirm=true`, `off_session=true` (only with
//!   `confirm`). Success: 200 with `status:
//!   succeeded` and `latest_charge` as a whole object (Stripe gives its id).
//!   Declined: 402 `{"error": {"code": "card_declined", "charge": "ch_..",
//!   "message": "Your card was declined."}}`, no `decline_code` and no
//!   `payment_intent` (Stripe gives both); the intent exists all the same,
//!   `requires_payment_method` with `last_payment_error` set, and
//!   `find_charge` finds it. A card that needs 3-D Secure: 200 with `status:
//!   requires_action`, `next_action.type: use_stripe_sdk` and a
//!   `client_secret`. Stripe, off-session, answers that case with a 402
//!   `authentication_required` carrying the intent (`requires_payment_method`);
//!   both become [`ChargeOutcome::RequiresAction`], and on both the customer
//!   finishes it in the browser with Stripe.js `confirmCardPayment`.
//! - 3-D Secure in a test: `POST /v1/payment_intents/{id}/_authenticate`
//!   with `client_secret` and `success=true` (or `false`), authorised by the
//!   secret key or by `key=pk_...` in the body. Success charges the card
//!   (and may still decline, 402); failure leaves the intent
//!   `requires_payment_method` with `last_payment_error.code:
//!   payment_intent_authentication_failure` and no payment method.
//! - Its fake Stripe.js is served at `/js.stripe.com/v3/` and talks to the
//!   server it was loaded from. `elements().create('card')` is a plain input
//!   form; `confirmCardSetup(secret, {payment_method: {card}})` confirms the
//!   SetupIntent with `payment_method_data` (the card is then *not* attached
//!   to the customer: localstripe leaves that to an explicit attach, which
//!   is why [`PaymentProvider::attach_card`] accepts a card already ours);
//!   a 3-D Secure card opens a modal with "Complete authentication" and
//!   "Fail authentication" buttons. `confirmCardPayment(secret)` always
//!   opens that modal, then calls `_authenticate`. `createPaymentMethod` is
//!   an empty stub.
//! - SetupIntents: `POST /v1/setup_intents` with `customer`, `usage`,
//!   `payment_method_types[]`; the answer has `id` and `client_secret`.
//! - Refunds: `POST /v1/refunds` with `payment_intent` (or `charge`),
//!   `amount`, `metadata[..]`; always `status: succeeded` at once. It does
//!   not check that the amount is at most what was charged (Stripe does),
//!   and refuses a refund of a failed payment with a 400.
//! - Webhooks: none until registered with `POST /_config/webhooks/{id}`
//!   (`url`, `secret`, optionally `events[]`). Each event is posted about a
//!   second after it happens, JSON with `id`, `type`, `data.object`,
//!   `created` and `api_version: 2017-08-15`, signed as Stripe signs:
//!   `Stripe-Signature: t=<event.created>,v1=<hex HMAC-SHA256 of
//!   "{t}.{body}">`. Sent for PaymentIntents: `payment_intent.succeeded` and
//!   `payment_intent.payment_failed`; none for refunds or SetupIntents.
//!   `DELETE /_config/data` empties the store.

mod stripe;
mod webhook;

use std::future::Future;
use std::pin::Pin;

pub use stripe::Stripe;
pub use webhook::{sign_webhook, verify_webhook, WebhookError, WebhookEvent, TOLERANCE_SECS};

/// A boxed future, so that [`PaymentProvider`] can be used as a trait
/// object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What taking money needs from a card processor.
pub trait PaymentProvider: Send + Sync {
    /// Creates the provider's customer for a team; its id (`cus_...`).
    /// The team id is the idempotency key (`postroom-customer-<team>`), so
    /// a retry within the provider's memory of keys (a day at Stripe) gives
    /// the same customer, and must send the same email and name.
    fn create_customer<'a>(
        &'a self,
        team_id: &'a str,
        email: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Starts saving a card for later off-session charges: the browser
    /// confirms the returned secret with the provider's script.
    fn setup_intent<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<SetupIntent, ProviderError>>;

    /// Attaches a saved card to the customer (a card already theirs is
    /// fine) and reads what we show of it.
    fn attach_card<'a>(
        &'a self,
        customer: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<CardInfo, ProviderError>>;

    /// Removes a card from its customer.
    fn detach_card<'a>(
        &'a self,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Creates and confirms a PaymentIntent off-session. `req.key` is our
    /// payment id: sent as the Idempotency-Key and as
    /// `metadata[postroom_payment]`, so a retry never charges twice.
    fn charge<'a>(
        &'a self,
        req: &'a ChargeRequest,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>>;

    /// Finds what became of a charge whose answer was lost, by the payment
    /// id it carries in its metadata; None when no charge was made.
    fn find_charge<'a>(
        &'a self,
        customer: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeOutcome>, ProviderError>>;

    /// Where a PaymentIntent stands now (after the customer finished 3-D
    /// Secure, say).
    fn retrieve_charge<'a>(
        &'a self,
        intent_id: &'a str,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>>;

    /// Refunds `amount` of a succeeded PaymentIntent; `key` (our refund id)
    /// is the Idempotency-Key and `metadata[postroom_refund]`. The refund's
    /// id (`re_...`).
    fn refund<'a>(
        &'a self,
        intent_id: &'a str,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;
}

/// A card being saved: the browser needs the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupIntent {
    pub id: String,
    pub client_secret: String,
}

/// What we show of a saved card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// The payment method's id (`pm_...`).
    pub id: String,
    /// As the provider names it: `visa`, `mastercard`, `amex`...
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// One off-session charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub customer: String,
    pub payment_method: String,
    /// In minor units, more than zero.
    pub amount: i64,
    /// Lowercase ISO code ("usd").
    pub currency: String,
    /// Our payment id: the idempotency key.
    pub key: String,
    /// What the charge is for, as people reading the provider's records see
    /// it.
    pub description: String,
}

/// What became of a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money is taken.
    Succeeded { intent: String },
    /// The bank wants the cardholder to authenticate (3-D Secure): the
    /// browser completes it with the secret, then we ask again
    /// ([`PaymentProvider::retrieve_charge`]).
    RequiresAction {
        intent: String,
        client_secret: String,
    },
    /// Not settled yet (a payment method that takes time, or an intent not
    /// yet confirmed): ask again later, or wait for the webhook.
    Processing { intent: String },
    /// Refused. `hard` when trying the same card again cannot help (lost,
    /// stolen, expired...): the customer must give another card.
    Declined {
        /// None when the provider did not name the intent (localstripe
        /// never does in a decline answer; `find_charge` finds it).
        intent: Option<String>,
        code: String,
        decline_code: Option<String>,
        message: String,
        hard: bool,
    },
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached, failed (5xx), asked us to slow
    /// down, or answered what we could not read: whether the request took
    /// effect is unknown, so reconcile later (with `find_charge`).
    #[error("the payment provider's answer is unknown: {0}")]
    Unknown(String),
    /// The provider refused the request (a 4xx other than a card error):
    /// nothing happened.
    #[error("the payment provider refused the request ({code}): {message}")]
    Rejected { code: String, message: String },
}

/// Decline and error codes after which charging the same card again is
/// pointless: the card is gone, blocked or wrong, and the customer must
/// give another. Everything else (`insufficient_funds`, `do_not_honor`,
/// `generic_decline`, `try_again_later`, `processing_error`...) is soft and
/// may succeed on a later attempt; `do_not_honor` is Stripe's catch-all for
/// an issuer that gives no reason, and issuers do accept a later try.
const HARD_DECLINES: &[&str] = &[
    "card_not_supported",
    "currency_not_supported",
    "expired_card",
    "fraudulent",
    "incorrect_number",
    "invalid_account",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_number",
    "lost_card",
    "merchant_blacklist",
    "new_account_information_available",
    "pickup_card",
    "restricted_card",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "security_violation",
    "stolen_card",
    "transaction_not_allowed",
];

/// The smallest amount Stripe charges to a card in `currency`, in minor
/// units (Stripe's published minimums; 50 for currencies it does not list
/// here). A smaller charge waits on the balance for the next one.
pub fn min_card_charge(currency: &str) -> i64 {
    match currency {
        "gbp" => 30,
        "dkk" => 250,
        "nok" | "sek" => 300,
        "hkd" => 400,
        "czk" => 1500,
        "huf" => 17500,
        "mxn" => 1000,
        "pln" => 200,
        "ron" => 200,
        "bgn" => 100,
        "aed" | "myr" => 200,
        "inr" => 50,
        "thb" => 1000,
        "sgd" | "nzd" | "aud" | "cad" | "chf" | "eur" | "usd" => 50,
        "jpy" => 50,
        _ => 50,
    }
}

/// Whether a decline cannot be cured by trying the same card again.
pub fn is_hard_decline(code: &str, decline_code: Option<&str>) -> bool {
    HARD_DECLINES.contains(&code) || decline_code.is_some_and(|d| HARD_DECLINES.contains(&d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_and_stolen_cards_are_hard_declines_and_want_of_money_is_not() {
        assert!(is_hard_decline("card_declined", Some("stolen_card")));
        assert!(is_hard_decline("card_declined", Some("lost_card")));
        assert!(is_hard_decline("expired_card", None));
        assert!(!is_hard_decline(
            "card_declined",
            Some("insufficient_funds")
        ));
        assert!(!is_hard_decline("card_declined", Some("do_not_honor")));
        assert!(!is_hard_decline("card_declined", None));
        assert!(!is_hard_decline("processing_error", None));
    }

    #[test]
    fn the_provider_is_usable_as_a_trait_object() {
        fn takes(_: &dyn PaymentProvider) {}
        let stripe = Stripe::new(
            "http://127.0.0.1:9".parse().unwrap(),
            "sk_test_x".to_owned().into(),
        )
        .unwrap();
        takes(&stripe);
    }
}
