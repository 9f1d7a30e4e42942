//! Plans and billing (B1-B10, T7) against a real Stripe-compatible server
//! (localstripe): cards, upgrades priced by a quote and charged exactly
//! that, top-ups, prorated seat changes, declined and 3-D Secure cards,
//! idempotency keys, renewals and their retries, a lost answer reconciled,
//! webhooks, invoices as PDF, cancelling, deleting a paying team, and the
//! operator's plans where no payment is taken.

use postroom_server::billing::BoxFuture;
use postroom_server::billing::{
    sign_webhook, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderError,
};
use postroom_server::clock::DAY;
use postroom_server::domain::billing;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::common::localstripe::LocalStripe;
use crate::common::{Db, Resp, TestApp};

on_both_databases!(
    a_team_adds_a_card_upgrades_grows_and_cancels,
    cards_that_decline_or_ask_for_3d_secure,
    renewals_use_the_balance_then_the_card_and_retry_failures,
    an_unpaid_renewal_ends_the_plan_after_the_last_try,
    a_charge_too_small_for_a_card_waits_on_the_balance,
    a_lost_answer_is_reconciled_into_one_charge,
    webhooks_are_verified_and_handled_once,
    deleting_a_paying_team_keeps_its_invoices,
    without_a_provider_the_operator_sets_plans,
);

const WEBHOOK_SECRET: &str = "whsec_postroom_test";
const VISA: &str = "4242424242424242";
/// Attaches, then declines when charged (localstripe declines 4000000000000002 already when it is attached).
const DECLINED: &str = "4000000000000341";
const THREE_D_SECURE: &str = "4000002760003184";

async fn spawn(db: Db, test: &str) -> Option<(TestApp, LocalStripe)> {
    let ls = LocalStripe::get(test)?;
    let url = ls.url.clone();
    let t = TestApp::spawn_with(db, move |c| {
        c.stripe_secret_key = Some(crate::common::localstripe::SECRET_KEY.to_owned().into());
        c.stripe_publishable_key = Some("pk_test_postroom".into());
        c.stripe_webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
        c.stripe_api_url = url;
    })
    .await;
    Some((t, ls))
}

/// Sends a money-moving request with an `Idempotency-Key`.
async fn with_key(
    t: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    key: &str,
    body: Value,
) -> Resp {
    let r = t
        .client
        .request(method, t.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await
}

async fn add_card(t: &TestApp, ls: &LocalStripe, token: &str, team: &str, number: &str) -> Value {
    let pm = ls.card(number).await;
    let r = t
        .post(
            &format!("/api/v1/teams/{team}/billing/cards"),
            Some(token),
            json!({ "payment_method": pm }),
        )
        .await;
    r.assert(201, None);
    r.body.clone()
}

fn amount(v: &Value) -> i64 {
    v["amount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no amount in {v}"))
}

async fn overview(t: &TestApp, token: &str, team: &str) -> Value {
    let r = t
        .get(&format!("/api/v1/teams/{team}/billing"), Some(token))
        .await;
    r.assert(200, None);
    r.body.clone()
}

/// The PaymentIntents localstripe holds for the team's customer
/// (localstripe lists them all, oldest first, without a customer filter).
async fn intents(t: &TestApp, ls: &LocalStripe, team: &str) -> Vec<Value> {
    let team_id = team_id(t, team).await;
    let mut c = t.app.store.conn().await.unwrap();
    let account = postroom_server::store::billing::account(&mut c, &team_id)
        .await
        .unwrap()
        .unwrap();
    let customer = account.customer_id.unwrap();
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let path = if after.is_empty() {
            "/v1/payment_intents?limit=100".to_owned()
        } else {
            format!("/v1/payment_intents?limit=100&starting_after={after}")
        };
        let page = ls.get_json(&path).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        let Some(last) = data.last() else { break };
        after = last["id"].as_str().unwrap().to_owned();
        all.extend(
            data.into_iter()
                .filter(|i| i["customer"] == customer.as_str()),
        );
        if page["has_more"] != true {
            break;
        }
    }
    all
}

/// Signs in again: moving the clock by days ends the sessions made before.
async fn signed_in_again(t: &TestApp, username: &str) -> String {
    t.sign_in(username, crate::common::PASSWORD, false).await
}

async fn team_id(t: &TestApp, slug: &str) -> String {
    let mut c = t.app.store.conn().await.unwrap();
    postroom_server::store::teams::by_slug(&mut c, slug)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn a_team_adds_a_card_upgrades_grows_and_cancels(db: Db) {
    let Some((t, ls)) = spawn(db, "billing::a_team_adds_a_card_upgrades_grows_and_cancels").await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    let bob = t.new_user("bob").await;
    t.create_team(&alice, "acme").await;
    t.join_team(&alice, "acme", &bob).await;

    // The catalogue.
    let plans = t.get("/api/v1/plans", None).await;
    plans.assert(200, None);
    let ids: Vec<&str> = plans.body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["free", "pro", "business", "enterprise"]);
    assert_eq!(
        plans.body["plans"][1]["prices"]["month"],
        json!({"amount": 1200, "currency": "usd"})
    );

    // A new team is on Free with 3 seats; a plain member does not see billing.
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["plan"], "free");
    assert_eq!(o["status"], "free");
    assert_eq!(o["seats"]["total"], 3);
    assert_eq!(o["balance"]["amount"], 0);
    assert_eq!(o["provider"], true);
    t.get("/api/v1/teams/acme/billing", Some(&bob))
        .await
        .assert(404, Some("not_found"));
    let carol = t.new_user("carol").await;
    t.get("/api/v1/teams/acme/billing", Some(&carol))
        .await
        .assert(404, Some("not_found"));

    // Without a card, an upgrade cannot be paid.
    let r = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "k0",
        json!({"plan": "pro", "cycle": "month", "seats": 5}),
    )
    .await;
    r.assert(402, Some("card_required"));
    assert_eq!(overview(&t, &alice, "acme").await["plan"], "free");

    let card = add_card(&t, &ls, &alice, "acme", VISA).await;
    assert_eq!(card["brand"], "visa");
    assert_eq!(card["last4"], "4242");
    assert_eq!(card["default"], true);
    assert_eq!(card["expired"], false);

    // Preview, then pay exactly the quote.
    let r = t
        .post(
            "/api/v1/teams/acme/billing/preview",
            Some(&alice),
            json!({"plan": "pro", "cycle": "month", "seats": 5}),
        )
        .await;
    r.assert(200, None);
    let quote = r.body["quote"].clone();
    assert_eq!(amount(&quote["subtotal"]), 5 * 1200);
    assert_eq!(amount(&quote["from_card"]), 5 * 1200);
    assert_eq!(amount(&quote["from_balance"]), 0);
    assert_eq!(amount(&quote["total"]), 5 * 1200);
    let body = json!({"plan": "pro", "cycle": "month", "seats": 5, "quote": quote["id"]});
    // Money-moving requests need a key.
    t.put(
        "/api/v1/teams/acme/billing/subscription",
        Some(&alice),
        body.clone(),
    )
    .await
    .assert(400, Some("idempotency_key_required"));
    let r = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "upgrade-1",
        body.clone(),
    )
    .await;
    r.assert(200, None);
    assert_eq!(r.body["overview"]["plan"], "pro");
    assert_eq!(r.body["overview"]["seats"]["total"], 5);
    assert_eq!(r.body["overview"]["status"], "active");
    let invoice = r.body["invoice"].clone();
    assert_eq!(amount(&invoice["total"]), amount(&quote["total"]));
    assert_eq!(invoice["lines"], quote["lines"]);
    assert_eq!(invoice["status"], "paid");
    // The same key and body: the same answer, and no second charge.
    let again = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "upgrade-1",
        body.clone(),
    )
    .await;
    again.assert(200, None);
    assert_eq!(again.body, r.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    // The same key with another body is refused.
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "upgrade-1",
        json!({"plan": "pro", "cycle": "month", "seats": 6}),
    )
    .await
    .assert(422, Some("idempotency_key_reused"));
    let paid: Vec<Value> = intents(&t, &ls, "acme")
        .await
        .into_iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0]["amount"], 6000);

    // Five seats: alice and bob, and three more can be invited.
    for who in ["dave", "erin", "fay", "gus"] {
        let r = t
            .post(
                "/api/v1/teams/acme/invites",
                Some(&alice),
                json!({"email": format!("{who}@example.com")}),
            )
            .await;
        if who == "gus" {
            r.assert(409, Some("no_seats_available"));
        } else {
            r.assert(201, None);
        }
    }
    // Seats never drop below what is used.
    t.post(
        "/api/v1/teams/acme/billing/preview",
        Some(&alice),
        json!({"plan": "pro", "cycle": "month", "seats": 3}),
    )
    .await
    .assert(409, Some("seats_below_members"));

    // Top up the balance.
    let r = with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "top-1",
        json!({"amount": 2500}),
    )
    .await;
    r.assert(201, None);
    assert_eq!(amount(&overview(&t, &alice, "acme").await["balance"]), 2500);
    with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "top-2",
        json!({"amount": 0}),
    )
    .await
    .assert(422, Some("invalid_amount"));

    // Mid-month, two more seats: prorated lines, the balance first.
    t.clock.advance(15 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    let bob = signed_in_again(&t, "bob").await;
    let r = t
        .post(
            "/api/v1/teams/acme/billing/preview",
            Some(&alice),
            json!({"plan": "pro", "cycle": "month", "seats": 7}),
        )
        .await;
    r.assert(200, None);
    let q = r.body["quote"].clone();
    let lines = q["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{q}");
    assert!(
        lines[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Unused time on Pro × 5 seats after"),
        "{q}"
    );
    assert!(
        lines[1]["description"]
            .as_str()
            .unwrap()
            .starts_with("Remaining time on Pro × 7 seats after"),
        "{q}"
    );
    assert!(lines.iter().all(|l| l["proration"] == true));
    // January has 31 days; 16 are left.
    let (period, left) = (31 * 86_400i64, 16 * 86_400i64);
    let credit = -((6000 * left + period / 2) / period);
    let debit = (8400 * left + period / 2) / period;
    assert_eq!(amount(&lines[0]["amount"]), credit);
    assert_eq!(amount(&lines[1]["amount"]), debit);
    assert_eq!(amount(&q["subtotal"]), credit + debit);
    assert_eq!(amount(&q["from_balance"]), (credit + debit).min(2500));
    assert_eq!(
        amount(&q["total"]),
        amount(&q["from_balance"]) + amount(&q["from_card"])
    );
    let r = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "seats-7",
        json!({"plan": "pro", "cycle": "month", "seats": 7, "quote": q["id"]}),
    )
    .await;
    r.assert(200, None);
    assert_eq!(r.body["overview"]["seats"]["total"], 7);
    assert_eq!(amount(&r.body["invoice"]["total"]), amount(&q["total"]));
    assert_eq!(
        amount(&r.body["overview"]["balance"]),
        2500 - amount(&q["from_balance"])
    );

    // A quote is refused once the balance moved after it.
    let r = t
        .post(
            "/api/v1/teams/acme/billing/preview",
            Some(&alice),
            json!({"plan": "business", "cycle": "month", "seats": 7}),
        )
        .await;
    r.assert(200, None);
    let stale = r.body["quote"]["id"].clone();
    with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "top-3",
        json!({"amount": 500}),
    )
    .await
    .assert(201, None);
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "stale",
        json!({"plan": "business", "cycle": "month", "seats": 7, "quote": stale}),
    )
    .await
    .assert(409, Some("quote_stale"));

    // Invoices, and the PDF: the same bytes each time.
    let list = t
        .get("/api/v1/teams/acme/billing/invoices", Some(&alice))
        .await;
    list.assert(200, None);
    let invoices = list.body["invoices"].as_array().unwrap().clone();
    assert_eq!(invoices.len(), 2);
    let numbers: Vec<&str> = invoices
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert!(numbers[0] > numbers[1], "{numbers:?}");
    let id = invoices[0]["id"].as_str().unwrap();
    let pdf = t
        .client
        .get(t.url(&format!("/api/v1/teams/acme/billing/invoices/{id}/pdf")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let first = pdf.bytes().await.unwrap();
    assert!(first.starts_with(b"%PDF-"));
    let second = t
        .client
        .get(t.url(&format!("/api/v1/teams/acme/billing/invoices/{id}/pdf")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(first, second);
    t.get(
        &format!("/api/v1/teams/acme/billing/invoices/{id}"),
        Some(&bob),
    )
    .await
    .assert(404, None);

    // The history, also in the audit log.
    let h = t
        .get("/api/v1/teams/acme/billing/history", Some(&alice))
        .await;
    h.assert(200, None);
    let kinds: Vec<&str> = h.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "card_added",
        "subscription_changed",
        "payment_succeeded",
        "topped_up",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let audit = t.get("/api/v1/teams/acme/audit-log", Some(&alice)).await;
    assert!(
        audit
            .body
            .to_string()
            .contains("added the card Visa •••• 4242"),
        "{}",
        audit.body
    );

    // Cancel: Pro until the period's end, then Free, with every member kept.
    let r = t
        .delete("/api/v1/teams/acme/billing/subscription", Some(&alice))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["cancel_at_period_end"], true);
    assert_eq!(r.body["plan"], "pro");
    assert!(r.body["upcoming_invoice"].is_null());
    billing::run_due(&t.app).await.unwrap();
    assert_eq!(overview(&t, &alice, "acme").await["plan"], "pro");
    t.clock.advance(17 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    billing::run_due(&t.app).await.unwrap();
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["plan"], "free");
    assert_eq!(o["status"], "free");
    assert_eq!(o["seats"]["total"], 3);
    let members = t.get("/api/v1/teams/acme/members", Some(&alice)).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
    t.mail_settled().await;
    assert!(t
        .mails_to("alice@example.com")
        .iter()
        .any(|m| m.contains("is back on Free")));
}

async fn cards_that_decline_or_ask_for_3d_secure(db: Db) {
    let Some((t, ls)) = spawn(db, "billing::cards_that_decline_or_ask_for_3d_secure").await else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", DECLINED).await;
    let r = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "d1",
        json!({"plan": "pro", "cycle": "year", "seats": 3}),
    )
    .await;
    r.assert(402, Some("card_declined"));
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["plan"], "free");
    assert_eq!(o["recent_payments"][0]["status"], "failed");
    assert_eq!(
        t.get("/api/v1/teams/acme/billing/invoices", Some(&alice))
            .await
            .body["invoices"],
        json!([])
    );

    // A card that needs the card holder: 402 with what Stripe.js needs,
    // and the change applies once the bank confirms.
    let card = add_card(&t, &ls, &alice, "acme", THREE_D_SECURE).await;
    let id = card["id"].as_str().unwrap();
    t.put(
        &format!("/api/v1/teams/acme/billing/cards/{id}/default"),
        Some(&alice),
        json!({}),
    )
    .await
    .assert(200, None);
    let r = with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "s1",
        json!({"plan": "pro", "cycle": "year", "seats": 3}),
    )
    .await;
    r.assert(402, Some("authentication_required"));
    let payment = r.body["payment"].clone();
    assert_eq!(payment["publishable_key"], "pk_test_postroom");
    assert_eq!(overview(&t, &alice, "acme").await["plan"], "free");
    // Another change waits for this one.
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "s2",
        json!({"plan": "business", "cycle": "year", "seats": 3}),
    )
    .await
    .assert(409, Some("payment_in_progress"));
    let pid = payment["payment_id"].as_str().unwrap();
    let secret = payment["client_secret"].as_str().unwrap();
    let intent = secret.split("_secret").next().unwrap();
    ls.authenticate(intent, secret, true).await;
    let r = t
        .post(
            &format!("/api/v1/teams/acme/billing/payments/{pid}/refresh"),
            Some(&alice),
            json!({}),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["overview"]["plan"], "pro");
    assert_eq!(r.body["overview"]["cycle"], "year");
    assert_eq!(amount(&r.body["invoice"]["total"]), 3 * 12000);
    // Looking again changes nothing.
    t.post(
        &format!("/api/v1/teams/acme/billing/payments/{pid}/refresh"),
        Some(&alice),
        json!({}),
    )
    .await
    .assert(200, None);
    assert_eq!(
        t.get("/api/v1/teams/acme/billing/invoices", Some(&alice))
            .await
            .body["invoices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Removing a card.
    let cards = t
        .get("/api/v1/teams/acme/billing/cards", Some(&alice))
        .await;
    assert_eq!(cards.body["cards"].as_array().unwrap().len(), 2);
    let declined = cards.body["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["last4"] == "0341")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.delete(
        &format!("/api/v1/teams/acme/billing/cards/{declined}"),
        Some(&alice),
    )
    .await
    .assert(204, None);
    t.delete(
        &format!("/api/v1/teams/acme/billing/cards/{declined}"),
        Some(&alice),
    )
    .await
    .assert(404, None);
}

async fn renewals_use_the_balance_then_the_card_and_retry_failures(db: Db) {
    let Some((t, ls)) = spawn(
        db,
        "billing::renewals_use_the_balance_then_the_card_and_retry_failures",
    )
    .await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", VISA).await;
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "u",
        json!({"plan": "pro", "cycle": "month", "seats": 2}),
    )
    .await
    .assert(200, None);
    with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "t",
        json!({"amount": 1000}),
    )
    .await
    .assert(201, None);
    let o = overview(&t, &alice, "acme").await;
    let upcoming = o["upcoming_invoice"].clone();
    assert_eq!(amount(&upcoming["total"]), 2400);
    assert_eq!(amount(&upcoming["from_balance"]), 1000);
    assert_eq!(amount(&upcoming["from_card"]), 1400);

    // The period ends: the renewal is paid from the balance, then the card.
    t.clock.advance(31 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    billing::run_due(&t.app).await.unwrap();
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["status"], "active");
    assert_eq!(amount(&o["balance"]), 0);
    let inv = &t
        .get("/api/v1/teams/acme/billing/invoices", Some(&alice))
        .await
        .body["invoices"][0];
    assert_eq!(inv["status"], "paid");
    assert_eq!(amount(&inv["from_balance"]), 1000);
    assert_eq!(amount(&inv["from_card"]), 1400);
    assert!(inv["lines"][0]["description"]
        .as_str()
        .unwrap()
        .contains("Pro × 2 seats"));

    // Next period, the only card declines: the invoice stays open and is
    // retried; the billing email and the admins are told.
    t.patch(
        "/api/v1/teams/acme/billing",
        Some(&alice),
        json!({"billing_email": "books@example.com"}),
    )
    .await
    .assert(200, None);
    let declined = add_card(&t, &ls, &alice, "acme", DECLINED).await;
    let did = declined["id"].as_str().unwrap();
    t.put(
        &format!("/api/v1/teams/acme/billing/cards/{did}/default"),
        Some(&alice),
        json!({}),
    )
    .await
    .assert(200, None);
    t.clock.advance(28 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    billing::run_due(&t.app).await.unwrap();
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["status"], "past_due");
    assert_eq!(o["plan"], "pro");
    t.mail_settled().await;
    assert!(t
        .mails_to("books@example.com")
        .iter()
        .any(|m| m.contains("did not go through")));
    assert!(t
        .mails_to("alice@example.com")
        .iter()
        .any(|m| m.contains("did not go through")));
    // A day later it is tried again (and declines again).
    t.clock.advance(DAY + 1);
    let alice = signed_in_again(&t, "alice").await;
    billing::run_due(&t.app).await.unwrap();
    let failed = o["recent_payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "failed")
        .count();
    let o = overview(&t, &alice, "acme").await;
    let failed_now = o["recent_payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "failed")
        .count();
    assert_eq!(failed_now, failed + 1);
    // A new card becomes the default and is tried at once.
    let good = add_card(&t, &ls, &alice, "acme", VISA).await;
    assert_eq!(good["default"], true);
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["status"], "active", "{o}");
    let inv = &t
        .get("/api/v1/teams/acme/billing/invoices", Some(&alice))
        .await
        .body["invoices"][0];
    assert_eq!(inv["status"], "paid");

    // A trial without a card ends on Free.
    let bob = t.new_user("bob").await;
    t.create_team(&bob, "bobs").await;
    let r = t
        .post("/api/v1/teams/bobs/billing/trial", Some(&bob), json!({}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["status"], "trialing");
    assert_eq!(r.body["plan"], "pro");
    t.post("/api/v1/teams/bobs/billing/trial", Some(&bob), json!({}))
        .await
        .assert(409, Some("trial_used"));
    t.clock.advance(14 * DAY);
    let bob = signed_in_again(&t, "bob").await;
    billing::run_due(&t.app).await.unwrap();
    assert_eq!(overview(&t, &bob, "bobs").await["plan"], "free");
}

/// What the faulty provider does with a charge.
const PASS: u8 = 0;
/// The charge is made and its answer lost, as when the process stops
/// between charging and recording.
const LOSE_ANSWER: u8 = 1;
/// The charge is never sent, as when the process stops after writing the
/// payment down and before asking the provider.
const STOP_BEFORE: u8 = 2;

/// A provider in front of localstripe that fails charges as `mode` says.
struct LosesAnswers {
    inner: Arc<dyn PaymentProvider>,
    mode: Arc<AtomicU8>,
}

impl PaymentProvider for LosesAnswers {
    fn create_customer<'a>(
        &'a self,
        team_id: &'a str,
        email: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        self.inner.create_customer(team_id, email, name)
    }
    fn setup_intent<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<postroom_server::billing::SetupIntent, ProviderError>> {
        self.inner.setup_intent(customer)
    }
    fn attach_card<'a>(
        &'a self,
        customer: &'a str,
        pm: &'a str,
    ) -> BoxFuture<'a, Result<postroom_server::billing::CardInfo, ProviderError>> {
        self.inner.attach_card(customer, pm)
    }
    fn detach_card<'a>(&'a self, pm: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.inner.detach_card(pm)
    }
    fn charge<'a>(
        &'a self,
        req: &'a ChargeRequest,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>> {
        Box::pin(async move {
            match self.mode.load(Ordering::SeqCst) {
                STOP_BEFORE => Err(ProviderError::Unknown("the process stopped".into())),
                LOSE_ANSWER => {
                    let _ = self.inner.charge(req).await;
                    Err(ProviderError::Unknown("the connection was reset".into()))
                }
                _ => self.inner.charge(req).await,
            }
        })
    }
    fn find_charge<'a>(
        &'a self,
        customer: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeOutcome>, ProviderError>> {
        self.inner.find_charge(customer, key)
    }
    fn retrieve_charge<'a>(
        &'a self,
        intent: &'a str,
    ) -> BoxFuture<'a, Result<ChargeOutcome, ProviderError>> {
        self.inner.retrieve_charge(intent)
    }
    fn refund<'a>(
        &'a self,
        intent: &'a str,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        self.inner.refund(intent, amount, key)
    }
}

async fn a_lost_answer_is_reconciled_into_one_charge(db: Db) {
    let Some((t, ls)) = spawn(db, "billing::a_lost_answer_is_reconciled_into_one_charge").await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", VISA).await;
    let mode = Arc::new(AtomicU8::new(LOSE_ANSWER));
    let shared = mode.clone();
    t.app.wrap_payments(move |inner| {
        Arc::new(LosesAnswers {
            inner,
            mode: shared,
        })
    });
    // The charge went through, but its answer was lost.
    let r = with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "top",
        json!({"amount": 1500}),
    )
    .await;
    r.assert(502, Some("payment_pending"));
    assert_eq!(amount(&overview(&t, &alice, "acme").await["balance"]), 0);
    // A retry with the same key does not charge again.
    with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "top",
        json!({"amount": 1500}),
    )
    .await
    .assert(502, Some("payment_pending"));
    // Reconciling finds the charge and records it once.
    t.clock.advance(2 * 60_000);
    assert_eq!(billing::reconcile(&t.app).await.unwrap(), 1);
    assert_eq!(billing::reconcile(&t.app).await.unwrap(), 0);
    assert_eq!(amount(&overview(&t, &alice, "acme").await["balance"]), 1500);
    let charged: Vec<Value> = intents(&t, &ls, "acme")
        .await
        .into_iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    assert_eq!(charged.len(), 1, "{charged:?}");
    let team = team_id(&t, "acme").await;
    let entries =
        postroom_server::store::billing::entries(&mut t.app.store.conn().await.unwrap(), &team, 10)
            .await
            .unwrap();
    assert_eq!(entries.len(), 1);

    // A renewal whose process stopped after the invoice was issued and the
    // payment written, before the provider was asked: charged once later,
    // when reconciling finds no charge for it.
    let bob = t.new_user("bob").await;
    t.create_team(&bob, "bobs").await;
    add_card(&t, &ls, &bob, "bobs", VISA).await;
    let r = t
        .post(
            "/api/v1/teams/bobs/billing/trial",
            Some(&bob),
            json!({"seats": 2}),
        )
        .await;
    r.assert(200, None);
    t.clock.advance(14 * DAY);
    let bob = signed_in_again(&t, "bob").await;
    mode.store(STOP_BEFORE, Ordering::SeqCst);
    billing::run_due(&t.app).await.unwrap();
    let o = overview(&t, &bob, "bobs").await;
    assert_eq!(o["recent_payments"][0]["status"], "pending");
    assert!(intents(&t, &ls, "bobs").await.is_empty());
    // Running the due work again starts no second payment for the invoice.
    billing::run_due(&t.app).await.unwrap();
    // "Restarted": the provider answers again.
    mode.store(PASS, Ordering::SeqCst);
    t.clock.advance(2 * 60_000);
    assert_eq!(billing::reconcile(&t.app).await.unwrap(), 1);
    billing::run_due(&t.app).await.unwrap();
    billing::reconcile(&t.app).await.unwrap();
    let inv = &t
        .get("/api/v1/teams/bobs/billing/invoices", Some(&bob))
        .await
        .body["invoices"];
    assert_eq!(inv.as_array().unwrap().len(), 1);
    assert_eq!(inv[0]["status"], "paid");
    let charged: Vec<Value> = intents(&t, &ls, "bobs")
        .await
        .into_iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    assert_eq!(charged.len(), 1, "{charged:?}");
    assert_eq!(charged[0]["amount"], 2 * 1200);
}

async fn webhooks_are_verified_and_handled_once(db: Db) {
    let Some((t, ls)) = spawn(db, "billing::webhooks_are_verified_and_handled_once").await else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", THREE_D_SECURE).await;
    let r = with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "t",
        json!({"amount": 900}),
    )
    .await;
    r.assert(402, Some("authentication_required"));
    let secret = r.body["payment"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = secret.split("_secret").next().unwrap().to_owned();
    ls.authenticate(&intent, &secret, true).await;

    let event = json!({"id": "evt_1", "type": "payment_intent.succeeded", "object": "event",
        "data": {"object": {"id": intent, "object": "payment_intent"}}});
    let body = event.to_string();
    let post = |sig: String, body: String| {
        let t = &t;
        async move {
            let r = t
                .client
                .post(t.url("/api/v1/billing/webhook"))
                .header("stripe-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            TestApp::read(r).await
        }
    };
    let now = t.app.clock.now() / 1000;
    // Unsigned, badly signed, or signed long ago: 400, nothing happens.
    post("t=1,v1=00".into(), body.clone())
        .await
        .assert(400, Some("invalid_signature"));
    post(
        sign_webhook(body.as_bytes(), b"whsec_other", now),
        body.clone(),
    )
    .await
    .assert(400, Some("invalid_signature"));
    post(
        sign_webhook(body.as_bytes(), WEBHOOK_SECRET.as_bytes(), now - 3600),
        body.clone(),
    )
    .await
    .assert(400, Some("invalid_signature"));
    assert_eq!(amount(&overview(&t, &alice, "acme").await["balance"]), 0);
    // Signed: the payment is looked up and recorded, once.
    post(
        sign_webhook(body.as_bytes(), WEBHOOK_SECRET.as_bytes(), now),
        body.clone(),
    )
    .await
    .assert(204, None);
    post(
        sign_webhook(body.as_bytes(), WEBHOOK_SECRET.as_bytes(), now),
        body.clone(),
    )
    .await
    .assert(204, None);
    let event2 = json!({"id": "evt_2", "type": "payment_intent.succeeded", "object": "event",
        "data": {"object": {"id": intent, "object": "payment_intent"}}})
    .to_string();
    post(
        sign_webhook(event2.as_bytes(), WEBHOOK_SECRET.as_bytes(), now),
        event2,
    )
    .await
    .assert(204, None);
    assert_eq!(amount(&overview(&t, &alice, "acme").await["balance"]), 900);
}

async fn deleting_a_paying_team_keeps_its_invoices(db: Db) {
    let Some((t, ls)) = spawn(db, "billing::deleting_a_paying_team_keeps_its_invoices").await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", VISA).await;
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "u",
        json!({"plan": "pro", "cycle": "month", "seats": 2}),
    )
    .await
    .assert(200, None);
    with_key(
        &t,
        Method::POST,
        "/api/v1/teams/acme/billing/top-ups",
        &alice,
        "t",
        json!({"amount": 700}),
    )
    .await
    .assert(201, None);
    let team = team_id(&t, "acme").await;
    t.clock.advance(10 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    t.delete("/api/v1/teams/acme", Some(&alice))
        .await
        .assert(204, None);
    let mut c = t.app.store.conn().await.unwrap();
    let invoices = postroom_server::store::billing::invoices(&mut c, &team, None, 10)
        .await
        .unwrap();
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[0].kind, "credit_note");
    assert!(invoices[0].total < 0);
    assert_eq!(
        postroom_server::store::billing::balance(&mut c, &team)
            .await
            .unwrap(),
        0
    );
    let account = postroom_server::store::billing::account(&mut c, &team)
        .await
        .unwrap()
        .unwrap();
    assert!(account.deleted_at.is_some());
}

async fn without_a_provider_the_operator_sets_plans(db: Db) {
    let t = TestApp::spawn(db).await;
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["provider"], false);
    t.post(
        "/api/v1/teams/acme/billing/preview",
        Some(&alice),
        json!({"plan": "pro", "cycle": "month", "seats": 5}),
    )
    .await
    .assert(409, Some("billing_off"));
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "k",
        json!({"plan": "pro", "cycle": "month", "seats": 5}),
    )
    .await
    .assert(409, Some("billing_off"));
    let by = postroom_server::domain::operator::By::CommandLine;
    postroom_server::domain::operator::set_plan(&t.app, &by, "acme", "pro", Some(5))
        .await
        .unwrap();
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["plan"], "pro");
    assert_eq!(o["seats"]["total"], 5);
    let h = t
        .get("/api/v1/teams/acme/billing/history", Some(&alice))
        .await;
    assert_eq!(h.body["entries"][0]["kind"], "plan_set");
}

async fn an_unpaid_renewal_ends_the_plan_after_the_last_try(db: Db) {
    let Some((t, ls)) = spawn(
        db,
        "billing::an_unpaid_renewal_ends_the_plan_after_the_last_try",
    )
    .await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    let bob = t.new_user("bob").await;
    t.create_team(&alice, "acme").await;
    t.join_team(&alice, "acme", &bob).await;
    add_card(&t, &ls, &alice, "acme", VISA).await;
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "u",
        json!({"plan": "pro", "cycle": "month", "seats": 4}),
    )
    .await
    .assert(200, None);
    let declined = add_card(&t, &ls, &alice, "acme", DECLINED).await;
    let id = declined["id"].as_str().unwrap();
    t.put(
        &format!("/api/v1/teams/acme/billing/cards/{id}/default"),
        Some(&alice),
        json!({}),
    )
    .await
    .assert(200, None);
    // The renewal fails, then each retry (after 1, 3 and 5 days) fails too.
    t.clock.advance(31 * DAY);
    billing::run_due(&t.app).await.unwrap();
    for days in billing::RETRY_AFTER_DAYS {
        let alice = signed_in_again(&t, "alice").await;
        assert_eq!(overview(&t, &alice, "acme").await["status"], "past_due");
        t.clock.advance(days * DAY + 1);
        billing::run_due(&t.app).await.unwrap();
    }
    // After the last try the team is on Free, with every member kept.
    let alice = signed_in_again(&t, "alice").await;
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(o["plan"], "free", "{o}");
    assert_eq!(o["status"], "free");
    assert_eq!(o["seats"]["total"], 3);
    let members = t.get("/api/v1/teams/acme/members", Some(&alice)).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
    let invoices = t
        .get("/api/v1/teams/acme/billing/invoices", Some(&alice))
        .await;
    assert_eq!(invoices.body["invoices"][0]["status"], "uncollectible");
    let failed = o["recent_payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "failed")
        .count();
    assert_eq!(failed, 4);
    t.mail_settled().await;
    assert!(t
        .mails_to("alice@example.com")
        .iter()
        .any(|m| m.contains("is back on Free")));
}

async fn a_charge_too_small_for_a_card_waits_on_the_balance(db: Db) {
    let Some((t, ls)) = spawn(
        db,
        "billing::a_charge_too_small_for_a_card_waits_on_the_balance",
    )
    .await
    else {
        return;
    };
    let alice = t.new_user("alice").await;
    t.create_team(&alice, "acme").await;
    add_card(&t, &ls, &alice, "acme", VISA).await;
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "u",
        json!({"plan": "pro", "cycle": "month", "seats": 2}),
    )
    .await
    .assert(200, None);
    // One day before the period's end, a third seat costs less than a card
    // may be charged (Stripe's 50 cents): it waits on the balance.
    t.clock.advance(30 * DAY);
    let alice = signed_in_again(&t, "alice").await;
    let r = t
        .post(
            "/api/v1/teams/acme/billing/preview",
            Some(&alice),
            json!({"plan": "pro", "cycle": "month", "seats": 3}),
        )
        .await;
    r.assert(200, None);
    let q = r.body["quote"].clone();
    let subtotal = amount(&q["subtotal"]);
    assert!(subtotal > 0 && subtotal < 50, "{q}");
    assert_eq!(amount(&q["from_card"]), 0);
    assert_eq!(amount(&q["from_balance"]), subtotal);
    with_key(
        &t,
        Method::PUT,
        "/api/v1/teams/acme/billing/subscription",
        &alice,
        "s",
        json!({"plan": "pro", "cycle": "month", "seats": 3, "quote": q["id"]}),
    )
    .await
    .assert(200, None);
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(amount(&o["balance"]), -subtotal);
    assert_eq!(o["seats"]["total"], 3);
    let charged = |v: Vec<Value>| v.into_iter().filter(|i| i["status"] == "succeeded").count();
    assert_eq!(charged(intents(&t, &ls, "acme").await), 1);
    // The renewal collects it with the card.
    assert_eq!(
        amount(&o["upcoming_invoice"]["from_card"]),
        3 * 1200 + subtotal
    );
    t.clock.advance(DAY);
    billing::run_due(&t.app).await.unwrap();
    let alice = signed_in_again(&t, "alice").await;
    let o = overview(&t, &alice, "acme").await;
    assert_eq!(amount(&o["balance"]), 0);
    let paid: Vec<Value> = intents(&t, &ls, "acme")
        .await
        .into_iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    assert_eq!(paid.len(), 2);
    assert!(
        paid.iter().any(|i| i["amount"] == 3 * 1200 + subtotal),
        "{paid:?}"
    );
}
