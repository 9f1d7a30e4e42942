//! The Stripe API as we use it: a handful of form-encoded requests with the
//! secret key as a Bearer token, read leniently (see the module above for
//! what localstripe answers differently).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{
    is_hard_decline, BoxFuture, CardInfo, ChargeOutcome, ChargeRequest, PaymentProvider,
    ProviderError, SetupIntent,
};

/// The API version our reads are written against; Stripe answers an
/// unversioned request in the account's default version, which an operator
/// can change under us.
const API_VERSION: &str = "2024-06-20";
/// The most an answer may weigh.
const MAX_ANSWER: usize = 1024 * 1024;
/// How many pages of a customer's PaymentIntents `find_charge` reads.
const MAX_PAGES: usize = 20;

/// A Stripe account, reached at `api_url` (`https://api.stripe.com`, or a
/// fake such as localstripe).
pub struct Stripe {
    api_url: Url,
    secret_key: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("api_url", &self.api_url.as_str())
            .finish_non_exhaustive()
    }
}

/// A form body: pairs in order.
type Form = Vec<(&'static str, String)>;

/// What Stripe says went wrong (`{"error": {...}}`); every field may be
/// missing.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    /// Given with card errors on a PaymentIntent (not by localstripe).
    payment_intent: Option<Box<Intent>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

/// A PaymentIntent, as much of it as we read.
#[derive(Debug, Deserialize)]
struct Intent {
    id: String,
    status: String,
    client_secret: Option<String>,
    last_payment_error: Option<Box<ApiError>>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
    /// An id, or the whole customer when expanded.
    customer: Option<Value>,
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct SetupIntentAnswer {
    id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct PaymentMethod {
    id: String,
    card: Option<Card>,
    customer: Option<Value>,
}

#[derive(Deserialize)]
struct Card {
    brand: String,
    last4: String,
    exp_month: u32,
    exp_year: u32,
}

#[derive(Deserialize)]
struct RefundAnswer {
    id: String,
    status: Option<String>,
}

/// An answer Stripe gave: its body, or the error of a 4xx.
enum Answer {
    Ok(Vec<u8>),
    Refused(StatusCode, ApiError),
}

impl Stripe {
    /// A client of the account whose secret key is `secret_key`. TLS by
    /// rustls with the *ring* provider and the system's roots.
    pub fn new(api_url: Url, secret_key: SecretString) -> anyhow::Result<Stripe> {
        let http = crate::outbound::client(Duration::from_secs(10), Duration::from_secs(40))?;
        Ok(Stripe {
            api_url,
            secret_key,
            http,
        })
    }

    /// Sends one request. Transport errors, 5xx, 409 (a request with the
    /// same idempotency key still running) and 429 leave the outcome
    /// unknown; other 4xx are refusals the caller reads.
    async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        let url = format!("{}/{path}", self.api_url.as_str().trim_end_matches('/'));
        let mut url = Url::parse(&url).map_err(|e| ProviderError::Rejected {
            code: "invalid_url".to_owned(),
            message: format!("{url}: {e}"),
        })?;
        if method == Method::GET && !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.secret_key.expose_secret())
            .header("Stripe-Version", API_VERSION);
        if method != Method::GET {
            request = request.form(params);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let unknown = |why: String| {
            tracing::warn!(%method, path, error = %why, "a Stripe request's outcome is unknown");
            ProviderError::Unknown(why)
        };
        let mut response = request.send().await.map_err(|e| unknown(error_chain(&e)))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unknown(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(unknown(format!("{method} {path}: the answer is too large")));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(%method, path, status = status.as_u16(), "Stripe answered");
        if status.is_success() {
            return Ok(Answer::Ok(body));
        }
        if status.is_server_error()
            || status == StatusCode::CONFLICT
            || status == StatusCode::TOO_MANY_REQUESTS
            || !status.is_client_error()
        {
            return Err(unknown(format!("{method} {path}: HTTP {status}")));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_default();
        Ok(Answer::Refused(status, error))
    }

    /// Sends a request whose every refusal is a [`ProviderError::Rejected`],
    /// and reads the answer.
    async fn ask<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, ProviderError> {
        match self.call(method, path, params, idempotency_key).await? {
            Answer::Ok(body) => read(path, &body),
            Answer::Refused(status, error) => Err(rejected(status, error)),
        }
    }

    async fn create_customer(
        &self,
        team_id: &str,
        email: &str,
        name: &str,
    ) -> Result<String, ProviderError> {
        let form: Form = vec![
            ("email", email.to_owned()),
            ("name", name.to_owned()),
            ("metadata[postroom_team]", team_id.to_owned()),
        ];
        let key = format!("postroom-customer-{team_id}");
        let created: Created = self
            .ask(Method::POST, "v1/customers", &form, Some(&key))
            .await?;
        Ok(created.id)
    }

    async fn setup_intent(&self, customer: &str) -> Result<SetupIntent, ProviderError> {
        let form: Form = vec![
            ("customer", customer.to_owned()),
            ("usage", "off_session".to_owned()),
            ("payment_method_types[]", "card".to_owned()),
        ];
        let answer: SetupIntentAnswer = self
            .ask(Method::POST, "v1/setup_intents", &form, None)
            .await?;
        Ok(SetupIntent {
            id: answer.id,
            client_secret: answer.client_secret,
        })
    }

    async fn attach_card(
        &self,
        customer: &str,
        payment_method: &str,
    ) -> Result<CardInfo, ProviderError> {
        let path = format!("v1/payment_methods/{}", segment(payment_method)?);
        let mut pm: PaymentMethod = self.ask(Method::GET, &path, &[], None).await?;
        match pm.customer.as_ref().and_then(object_id) {
            Some(owner) if owner == customer => {}
            Some(_) => {
                return Err(ProviderError::Rejected {
                    code: "payment_method_in_use".to_owned(),
                    message: "the card belongs to another customer".to_owned(),
                })
            }
            None => {
                let form: Form = vec![("customer", customer.to_owned())];
                pm = self
                    .ask(Method::POST, &format!("{path}/attach"), &form, None)
                    .await?;
            }
        }
        let Some(card) = pm.card else {
            return Err(ProviderError::Rejected {
                code: "not_a_card".to_owned(),
                message: "the payment method is not a card".to_owned(),
            });
        };
        Ok(CardInfo {
            id: pm.id,
            brand: card.brand,
            last4: card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        })
    }

    async fn detach_card(&self, payment_method: &str) -> Result<(), ProviderError> {
        let path = format!("v1/payment_methods/{}/detach", segment(payment_method)?);
        let _: Created = self.ask(Method::POST, &path, &[], None).await?;
        Ok(())
    }

    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        let form: Form = vec![
            ("amount", req.amount.to_string()),
            ("currency", req.currency.clone()),
            ("customer", req.customer.clone()),
            ("payment_method", req.payment_method.clone()),
            // Cards only: since API version 2023-08-16 an intent otherwise
            // accepts every method enabled in the dashboard, and confirming
            // it wants a `return_url` for the ones that redirect.
            ("payment_method_types[]", "card".to_owned()),
            ("confirm", "true".to_owned()),
            ("off_session", "true".to_owned()),
            ("metadata[postroom_payment]", req.key.clone()),
            // localstripe refuses `description`; metadata is shown as well.
            ("metadata[postroom_description]", req.description.clone()),
        ];
        let path = "v1/payment_intents";
        match self.call(Method::POST, path, &form, Some(&req.key)).await? {
            Answer::Ok(body) => outcome(read(path, &body)?),
            Answer::Refused(status, error)
                if status == StatusCode::PAYMENT_REQUIRED
                    || error.kind.as_deref() == Some("card_error") =>
            {
                Ok(card_error(error))
            }
            Answer::Refused(status, error) => Err(rejected(status, error)),
        }
    }

    async fn find_charge(
        &self,
        customer: &str,
        key: &str,
    ) -> Result<Option<ChargeOutcome>, ProviderError> {
        let path = "v1/payment_intents";
        // Stripe filters by customer; localstripe refuses the filter, so
        // then every intent is read and filtered here.
        let mut by_customer = true;
        let mut after: Option<String> = None;
        let mut found: Option<Intent> = None;
        let mut pages = 0;
        while pages < MAX_PAGES {
            pages += 1;
            let mut query: Vec<(&str, String)> = vec![("limit", "100".to_owned())];
            if by_customer {
                query.push(("customer", customer.to_owned()));
            }
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let page: Page<Intent> = match self.call(Method::GET, path, &query, None).await? {
                Answer::Ok(body) => read(path, &body)?,
                Answer::Refused(StatusCode::BAD_REQUEST, error)
                    if by_customer
                        && error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("customer")) =>
                {
                    by_customer = false;
                    after = None;
                    pages = 0;
                    continue;
                }
                Answer::Refused(status, error) => return Err(rejected(status, error)),
            };
            after = page.data.last().map(|i| i.id.clone());
            for intent in page.data {
                let ours = intent.customer.as_ref().and_then(object_id) == Some(customer);
                let tagged = intent
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("postroom_payment"))
                    .and_then(Value::as_str)
                    == Some(key);
                if !(ours && tagged) {
                    continue;
                }
                // Without idempotency keys one payment may have been sent
                // twice: a success wins.
                if intent.status == "succeeded" {
                    return outcome(intent).map(Some);
                }
                found.get_or_insert(intent);
            }
            if !page.has_more || after.is_none() {
                break;
            }
        }
        found.map(outcome).transpose()
    }

    async fn retrieve_charge(&self, intent_id: &str) -> Result<ChargeOutcome, ProviderError> {
        let path = format!("v1/payment_intents/{}", segment(intent_id)?);
        outcome(self.ask(Method::GET, &path, &[], None).await?)
    }

    async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        key: &str,
    ) -> Result<String, ProviderError> {
        let form: Form = vec![
            ("payment_intent", intent_id.to_owned()),
            ("amount", amount.to_string()),
            ("metadata[postroom_refund]", key.to_owned()),
        ];
        let refund: RefundAnswer = self
            .ask(Method::POST, "v1/refunds", &form, Some(key))
            .await?;
        match refund.status.as_deref() {
            Some("failed" | "canceled") => Err(ProviderError::Rejected {
                code: "refund_failed".to_owned(),
                message: format!("the refund {} failed", refund.id),
            }),
            _ => Ok(refund.id),
        }
    }
}

impl PaymentProvider for Stripe {
    fn create_customer<'a>(
        &'a self,
        team_id: &'a str,
        email: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(Stripe::create_customer(self, team_id, email, name))
    }

    fn setup_intent<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<SetupIntent, ProviderError>> {
        Box::pin(Stripe::setup_intent(self, customer))
    }

    fn attach_card<'a>(
        &'a self,
        customer: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<CardInfo, ProviderError>> {
        Box::pin(Stripe::attach_card(self, customer, payment_method))
    }

    fn detach_card<'a>(
        &'a self,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(Stripe::detach_card(self, payment_method))
    }

    fn charge<'a>(
        &'a self,
        req: &'a ChargeRequest,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>> {
        Box::pin(Stripe::charge(self, req))
    }

    fn find_charge<'a>(
        &'a self,
        customer: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeOutcome>, ProviderError>> {
        Box::pin(Stripe::find_charge(self, customer, key))
    }

    fn retrieve_charge<'a>(
        &'a self,
        intent_id: &'a str,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>> {
        Box::pin(Stripe::retrieve_charge(self, intent_id))
    }

    fn refund<'a>(
        &'a self,
        intent_id: &'a str,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(Stripe::refund(self, intent_id, amount, key))
    }
}

/// Where a PaymentIntent stands, in our terms.
fn outcome(intent: Intent) -> Result<ChargeOutcome, ProviderError> {
    let needs_authentication = intent
        .last_payment_error
        .as_ref()
        .is_some_and(|e| e.code.as_deref() == Some("authentication_required"));
    match intent.status.as_str() {
        "succeeded" => Ok(ChargeOutcome::Succeeded { intent: intent.id }),
        // `requires_source_action` and `requires_source` are the names of
        // API versions before 2019-02-11.
        "requires_action" | "requires_source_action" => requires_action(intent),
        "requires_payment_method" | "requires_source" if needs_authentication => {
            requires_action(intent)
        }
        "requires_payment_method" | "requires_source" => Ok(match intent.last_payment_error {
            Some(error) => declined(Some(intent.id), *error),
            None => ChargeOutcome::Declined {
                intent: Some(intent.id),
                code: "requires_payment_method".to_owned(),
                decline_code: None,
                message: "the payment has no card that could be charged".to_owned(),
                hard: false,
            },
        }),
        "processing" | "requires_confirmation" | "requires_capture" => {
            Ok(ChargeOutcome::Processing { intent: intent.id })
        }
        "canceled" => Ok(ChargeOutcome::Declined {
            intent: Some(intent.id),
            code: "canceled".to_owned(),
            decline_code: None,
            message: "the payment was canceled".to_owned(),
            hard: false,
        }),
        other => Err(ProviderError::Unknown(format!(
            "the payment intent {} has a status we do not know: {other}",
            intent.id
        ))),
    }
}

fn requires_action(intent: Intent) -> Result<ChargeOutcome, ProviderError> {
    match intent.client_secret {
        Some(client_secret) => Ok(ChargeOutcome::RequiresAction {
            intent: intent.id,
            client_secret,
        }),
        None => Err(ProviderError::Unknown(format!(
            "the payment intent {} wants authentication but came without its client secret",
            intent.id
        ))),
    }
}

/// A card error answering a charge: Stripe names the intent (off-session
/// authentication is one of them), localstripe does not.
fn card_error(mut error: ApiError) -> ChargeOutcome {
    if let Some(intent) = error.payment_intent.take() {
        if error.code.as_deref() == Some("authentication_required") {
            if let Ok(outcome) = requires_action(*intent) {
                return outcome;
            }
            return declined(None, error);
        }
        return declined(Some(intent.id), error);
    }
    declined(None, error)
}

fn declined(intent: Option<String>, error: ApiError) -> ChargeOutcome {
    let code = error.code.unwrap_or_else(|| "card_declined".to_owned());
    let hard = is_hard_decline(&code, error.decline_code.as_deref());
    ChargeOutcome::Declined {
        intent,
        code,
        decline_code: error.decline_code,
        message: error
            .message
            .unwrap_or_else(|| "the card was declined".to_owned()),
        hard,
    }
}

fn rejected(status: StatusCode, error: ApiError) -> ProviderError {
    let code = error.code.unwrap_or_else(|| {
        match status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::PAYMENT_REQUIRED => "card_declined",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "resource_missing",
            _ => "rejected",
        }
        .to_owned()
    });
    let message = error.message.unwrap_or_else(|| format!("HTTP {status}"));
    ProviderError::Rejected { code, message }
}

fn read<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body)
        .map_err(|e| ProviderError::Unknown(format!("the answer to {path} could not be read: {e}")))
}

/// An id put in a URL path: Stripe's are letters, digits and underscores.
fn segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(ProviderError::Rejected {
            code: "invalid_id".to_owned(),
            message: format!("{id:?} is not a Stripe id"),
        })
    }
}

/// The id of a reference that may be expanded into the whole object.
fn object_id(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn intent(v: Value) -> Intent {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_succeeded_intent_is_a_success_whatever_else_it_carries() {
        let i = intent(
            json!({"id": "pi_1", "status": "succeeded", "latest_charge": {"id": "ch_1"},
                              "customer": "cus_1", "metadata": {"postroom_payment": "p"}, "new_field": 1}),
        );
        assert_eq!(
            outcome(i).unwrap(),
            ChargeOutcome::Succeeded {
                intent: "pi_1".into()
            }
        );
    }

    #[test]
    fn three_d_secure_reads_the_same_from_localstripe_and_from_stripe() {
        // localstripe: 200, requires_action.
        let local = intent(
            json!({"id": "pi_1", "status": "requires_action", "client_secret": "pi_1_secret_x",
                                  "next_action": {"type": "use_stripe_sdk"}}),
        );
        // Stripe off-session: 402 authentication_required with the intent.
        let error: ErrorBody = serde_json::from_value(json!({"error": {
            "type": "card_error", "code": "authentication_required", "message": "authenticate",
            "payment_intent": {"id": "pi_1", "status": "requires_payment_method", "client_secret": "pi_1_secret_x",
                               "last_payment_error": {"code": "authentication_required"}}}}))
        .unwrap();
        let expected = ChargeOutcome::RequiresAction {
            intent: "pi_1".into(),
            client_secret: "pi_1_secret_x".into(),
        };
        assert_eq!(outcome(local).unwrap(), expected);
        assert_eq!(card_error(error.error), expected);
    }

    #[test]
    fn a_stripe_decline_names_the_intent_and_the_decline_code() {
        let error: ErrorBody = serde_json::from_value(json!({"error": {
            "type": "card_error", "code": "card_declined", "decline_code": "stolen_card",
            "message": "Your card was declined.",
            "payment_intent": {"id": "pi_2", "status": "requires_payment_method"}}}))
        .unwrap();
        assert_eq!(
            card_error(error.error),
            ChargeOutcome::Declined {
                intent: Some("pi_2".into()),
                code: "card_declined".into(),
                decline_code: Some("stolen_card".into()),
                message: "Your card was declined.".into(),
                hard: true,
            }
        );
    }

    #[test]
    fn a_failed_intent_reports_its_last_error() {
        let i = intent(json!({"id": "pi_3", "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "no money"}}));
        assert_eq!(
            outcome(i).unwrap(),
            ChargeOutcome::Declined {
                intent: Some("pi_3".into()),
                code: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                message: "no money".into(),
                hard: false,
            }
        );
        let i = intent(json!({"id": "pi_4", "status": "processing"}));
        assert_eq!(
            outcome(i).unwrap(),
            ChargeOutcome::Processing {
                intent: "pi_4".into()
            }
        );
        let i = intent(json!({"id": "pi_5", "status": "something_new"}));
        assert!(matches!(outcome(i), Err(ProviderError::Unknown(_))));
    }

    #[test]
    fn a_refusal_without_a_code_gets_one_from_its_status() {
        assert_eq!(
            rejected(StatusCode::NOT_FOUND, ApiError::default()),
            ProviderError::Rejected {
                code: "resource_missing".into(),
                message: "HTTP 404 Not Found".into()
            }
        );
    }

    #[test]
    fn only_plain_ids_go_into_a_path() {
        assert!(segment("pm_1AbC").is_ok());
        for bad in ["", "pm_1/../customers", "pm 1", "pm_1?x=1", "pm_é"] {
            assert!(segment(bad).is_err(), "{bad:?}");
        }
    }
}
