//! The payment provider client against a Stripe-compatible server
//! (localstripe, see `common::localstripe`): customers and cards, charges
//! that succeed, decline or want 3-D Secure, finding a charge whose answer
//! was lost, refunds, and signed webhooks as the server sends them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postroom_server::billing::{
    sign_webhook, verify_webhook, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderError,
    Stripe, WebhookError, TOLERANCE_SECS,
};
use serde_json::Value;

use crate::common::localstripe::LocalStripe;

const GOOD: &str = "4242424242424242";
/// Attaches, then declines when charged.
const DECLINES: &str = "4000000000000341";
/// Declined as soon as it is attached.
const REFUSED: &str = "4000000000000002";
/// Wants 3-D Secure.
const THREE_D: &str = "4000002760003184";

macro_rules! localstripe {
    ($test:literal) => {
        match LocalStripe::get(concat!("stripe::", $test)) {
            Some(ls) => ls,
            None => return,
        }
    };
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh customer with the card `number` attached.
async fn customer_with(ls: &LocalStripe, stripe: &Stripe, number: &str) -> (String, String) {
    let team = unique("team");
    let customer = stripe
        .create_customer(&team, "billing@example.com", "Acme")
        .await
        .unwrap();
    let pm = ls.card(number).await;
    stripe.attach_card(&customer, &pm).await.unwrap();
    (customer, pm)
}

fn request(customer: &str, pm: &str, amount: i64) -> ChargeRequest {
    ChargeRequest {
        customer: customer.to_owned(),
        payment_method: pm.to_owned(),
        amount,
        currency: "usd".to_owned(),
        key: unique("pay"),
        description: "Pro × 5 seats (monthly)".to_owned(),
    }
}

#[tokio::test]
async fn a_customer_saves_reads_and_removes_a_card() {
    let ls = localstripe!("a_customer_saves_reads_and_removes_a_card");
    let stripe = ls.stripe();
    let customer = stripe
        .create_customer(&unique("team"), "billing@example.com", "Acme")
        .await
        .unwrap();
    assert!(customer.starts_with("cus_"), "{customer}");

    let setup = stripe.setup_intent(&customer).await.unwrap();
    assert!(setup.id.starts_with("seti_"), "{setup:?}");
    assert!(setup.client_secret.starts_with(&setup.id), "{setup:?}");

    let pm = ls.card(GOOD).await;
    let card = stripe.attach_card(&customer, &pm).await.unwrap();
    assert_eq!(card.id, pm);
    assert_eq!(card.brand, "visa");
    assert_eq!(card.last4, "4242");
    assert_eq!((card.exp_month, card.exp_year), (12, 2030));
    // Attaching a card that is already the customer's reads it again.
    assert_eq!(stripe.attach_card(&customer, &pm).await.unwrap(), card);
    let listed = ls
        .get_json(&format!(
            "/v1/payment_methods?customer={customer}&type=card"
        ))
        .await;
    assert_eq!(listed["data"][0]["id"], pm.as_str());

    // Another customer cannot take it.
    let other = stripe
        .create_customer(&unique("team"), "other@example.com", "Other")
        .await
        .unwrap();
    assert!(matches!(
        stripe.attach_card(&other, &pm).await,
        Err(ProviderError::Rejected { code, .. }) if code == "payment_method_in_use"
    ));

    stripe.detach_card(&pm).await.unwrap();
    let listed = ls
        .get_json(&format!(
            "/v1/payment_methods?customer={customer}&type=card"
        ))
        .await;
    assert_eq!(listed["data"], Value::Array(vec![]));
}

#[tokio::test]
async fn a_card_the_bank_refuses_is_not_attached() {
    let ls = localstripe!("a_card_the_bank_refuses_is_not_attached");
    let stripe = ls.stripe();
    let customer = stripe
        .create_customer(&unique("team"), "billing@example.com", "Acme")
        .await
        .unwrap();
    let pm = ls.card(REFUSED).await;
    match stripe.attach_card(&customer, &pm).await {
        Err(ProviderError::Rejected { code, .. }) => assert_eq!(code, "card_declined"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        stripe.attach_card(&customer, "pm_1/../../customers").await,
        Err(ProviderError::Rejected { code, .. }) if code == "invalid_id"
    ));
}

#[tokio::test]
async fn a_good_card_is_charged() {
    let ls = localstripe!("a_good_card_is_charged");
    let stripe = ls.stripe();
    let (customer, pm) = customer_with(&ls, &stripe, GOOD).await;
    let req = request(&customer, &pm, 1200);
    let ChargeOutcome::Succeeded { intent } = stripe.charge(&req).await.unwrap() else {
        panic!("not charged");
    };
    assert_eq!(
        stripe.retrieve_charge(&intent).await.unwrap(),
        ChargeOutcome::Succeeded {
            intent: intent.clone()
        }
    );
    let pi = ls.get_json(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(pi["amount"], 1200);
    assert_eq!(pi["currency"], "usd");
    assert_eq!(pi["metadata"]["postroom_payment"], req.key.as_str());
    assert_eq!(
        pi["metadata"]["postroom_description"],
        "Pro × 5 seats (monthly)"
    );
    assert!(matches!(
        stripe.retrieve_charge("pi_doesnotexist").await,
        Err(ProviderError::Rejected { code, .. }) if code == "resource_missing"
    ));
}

#[tokio::test]
async fn a_declined_card_is_declined_softly_and_found_afterwards() {
    let ls = localstripe!("a_declined_card_is_declined_softly_and_found_afterwards");
    let stripe = ls.stripe();
    let (customer, pm) = customer_with(&ls, &stripe, DECLINES).await;
    let req = request(&customer, &pm, 1200);
    match stripe.charge(&req).await.unwrap() {
        ChargeOutcome::Declined {
            code,
            decline_code,
            hard,
            ..
        } => {
            assert_eq!(code, "card_declined");
            assert_eq!(decline_code, None);
            assert!(!hard);
        }
        other => panic!("{other:?}"),
    }
    // localstripe does not name the intent in the decline; it exists, and
    // carries the error.
    match stripe.find_charge(&customer, &req.key).await.unwrap() {
        Some(ChargeOutcome::Declined {
            intent: Some(intent),
            code,
            ..
        }) => {
            assert!(intent.starts_with("pi_"));
            assert_eq!(code, "card_declined");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_card_that_wants_3d_secure_asks_for_it_and_then_pays() {
    let ls = localstripe!("a_card_that_wants_3d_secure_asks_for_it_and_then_pays");
    let stripe = ls.stripe();
    let (customer, pm) = customer_with(&ls, &stripe, THREE_D).await;

    let ChargeOutcome::RequiresAction {
        intent,
        client_secret,
    } = stripe.charge(&request(&customer, &pm, 1200)).await.unwrap()
    else {
        panic!("no 3-D Secure asked");
    };
    assert!(client_secret.starts_with(&intent));
    assert_eq!(
        stripe.retrieve_charge(&intent).await.unwrap(),
        ChargeOutcome::RequiresAction {
            intent: intent.clone(),
            client_secret: client_secret.clone()
        }
    );
    ls.authenticate(&intent, &client_secret, true).await;
    assert_eq!(
        stripe.retrieve_charge(&intent).await.unwrap(),
        ChargeOutcome::Succeeded { intent }
    );

    // The cardholder may fail it instead.
    let ChargeOutcome::RequiresAction {
        intent,
        client_secret,
    } = stripe.charge(&request(&customer, &pm, 700)).await.unwrap()
    else {
        panic!("no 3-D Secure asked");
    };
    ls.authenticate(&intent, &client_secret, false).await;
    match stripe.retrieve_charge(&intent).await.unwrap() {
        ChargeOutcome::Declined { code, hard, .. } => {
            assert_eq!(code, "payment_intent_authentication_failure");
            assert!(!hard);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_found_not_charged_again() {
    let ls = localstripe!("a_charge_whose_answer_was_lost_is_found_not_charged_again");
    let stripe = ls.stripe();
    let (customer, pm) = customer_with(&ls, &stripe, GOOD).await;
    let req = request(&customer, &pm, 1500);
    assert_eq!(stripe.find_charge(&customer, &req.key).await.unwrap(), None);

    let first = stripe.charge(&req).await.unwrap();
    let ChargeOutcome::Succeeded { intent } = &first else {
        panic!("{first:?}");
    };
    // The retry asks first, and finds the payment made.
    assert_eq!(
        stripe.find_charge(&customer, &req.key).await.unwrap(),
        Some(first.clone())
    );
    // Not under another key, nor for another customer.
    assert_eq!(
        stripe.find_charge(&customer, "pay-other").await.unwrap(),
        None
    );
    let (other, _) = customer_with(&ls, &stripe, GOOD).await;
    assert_eq!(stripe.find_charge(&other, &req.key).await.unwrap(), None);

    let charges = ls
        .get_json(&format!("/v1/charges?customer={customer}"))
        .await;
    let charges = charges["data"].as_array().unwrap();
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0]["payment_intent"], intent.as_str());
    assert_eq!(charges[0]["amount"], 1500);
}

#[tokio::test]
async fn part_of_a_charge_is_refunded() {
    let ls = localstripe!("part_of_a_charge_is_refunded");
    let stripe = ls.stripe();
    let (customer, pm) = customer_with(&ls, &stripe, GOOD).await;
    let ChargeOutcome::Succeeded { intent } =
        stripe.charge(&request(&customer, &pm, 1200)).await.unwrap()
    else {
        panic!("not charged");
    };
    let key = unique("refund");
    let refund = stripe.refund(&intent, 500, &key).await.unwrap();
    assert!(refund.starts_with("re_"), "{refund}");
    let refunds = ls
        .get_json(&format!("/v1/refunds?payment_intent={intent}"))
        .await;
    assert_eq!(refunds["data"][0]["id"], refund.as_str());
    assert_eq!(refunds["data"][0]["amount"], 500);
    assert_eq!(
        refunds["data"][0]["metadata"]["postroom_refund"],
        key.as_str()
    );

    // A failed payment cannot be refunded.
    let (customer, pm) = customer_with(&ls, &stripe, DECLINES).await;
    let req = request(&customer, &pm, 1200);
    stripe.charge(&req).await.unwrap();
    let Some(ChargeOutcome::Declined {
        intent: Some(failed),
        ..
    }) = stripe.find_charge(&customer, &req.key).await.unwrap()
    else {
        panic!("no failed intent");
    };
    assert!(matches!(
        stripe.refund(&failed, 500, &unique("refund")).await,
        Err(ProviderError::Rejected { .. })
    ));
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let ls = localstripe!("a_wrong_key_is_refused");
    let wrong = Stripe::new(ls.url.parse().unwrap(), "pk_test_x".to_owned().into()).unwrap();
    assert!(matches!(
        wrong.create_customer("t", "a@example.com", "A").await,
        Err(ProviderError::Rejected { code, .. }) if code == "unauthorized"
    ));
}

#[tokio::test]
async fn an_unreachable_server_leaves_the_outcome_unknown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = Stripe::new(
        format!("http://127.0.0.1:{port}").parse().unwrap(),
        "sk_test_x".to_owned().into(),
    )
    .unwrap();
    let req = request("cus_x", "pm_x", 100);
    assert!(matches!(
        gone.charge(&req).await,
        Err(ProviderError::Unknown(_))
    ));
}

/// Receives what localstripe posts: (Stripe-Signature, body).
async fn webhook_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let signature = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send((signature, body.to_vec()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

#[tokio::test]
async fn webhooks_from_the_server_are_verified_and_forgeries_refused() {
    let ls = localstripe!("webhooks_from_the_server_are_verified_and_forgeries_refused");
    let stripe = ls.stripe();
    let secret = unique("whsec");
    let (url, mut received) = webhook_receiver().await;
    ls.register_webhook(
        &unique("hook"),
        &url,
        &secret,
        &["payment_intent.succeeded"],
    )
    .await;
    let (customer, pm) = customer_with(&ls, &stripe, GOOD).await;
    let ChargeOutcome::Succeeded { intent } =
        stripe.charge(&request(&customer, &pm, 900)).await.unwrap()
    else {
        panic!("not charged");
    };

    // Other tests' payments are posted here too: wait for ours.
    let (signature, body) = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (signature, body) = received.recv().await.expect("the receiver runs");
            let event: Value = serde_json::from_slice(&body).unwrap();
            if event["data"]["object"]["id"] == intent.as_str() {
                return (signature, body);
            }
        }
    })
    .await
    .expect("the event arrives");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let event = verify_webhook(&body, &signature, secret.as_bytes(), now).unwrap();
    assert!(event.id.starts_with("evt_"), "{event:?}");
    assert_eq!(event.kind, "payment_intent.succeeded");
    assert_eq!(event.object["id"], intent.as_str());
    assert_eq!(event.object["status"], "succeeded");

    // Signed with another secret, changed, or replayed too late.
    assert_eq!(
        verify_webhook(&body, &signature, b"whsec_wrong", now),
        Err(WebhookError::Signature)
    );
    let mut changed = body.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x20;
    assert_eq!(
        verify_webhook(&changed, &signature, secret.as_bytes(), now),
        Err(WebhookError::Signature)
    );
    let t: i64 = signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        verify_webhook(&body, &signature, secret.as_bytes(), t + TOLERANCE_SECS + 1),
        Err(WebhookError::Timestamp)
    );
    // We sign exactly as it does.
    assert_eq!(sign_webhook(&body, secret.as_bytes(), t), signature);
}
