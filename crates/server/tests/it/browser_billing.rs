//! The billing pages (B1-B10) against localstripe: in Chromium, an admin
//! adds a card through Stripe.js (localstripe's fake of it) and upgrades to
//! Pro after seeing the price; with a cookie browser, billing is hidden
//! from a plain member (404 on every page), a server without a payment
//! provider says the operator manages billing, and a confirm sent twice
//! charges once. Screenshots go to `target/screenshots/` as in the other
//! browser tests. Without localstripe, or without Chromium for the first
//! test, the tests skip.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use postroom_core::billing::format_money;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::common::browser::*;
use crate::common::localstripe::{LocalStripe, SECRET_KEY};
use crate::common::{Db, TestApp, PASSWORD};
use crate::cookie_auth::browser_signed_in;

on_both_databases!(
    billing_is_hidden_from_plain_members,
    without_a_provider_the_pages_name_the_operator,
    a_confirm_sent_twice_charges_once,
    pages_show_a_refusal_in_words,
);

/// What the test servers with a payment provider are configured with.
fn with_localstripe(ls: &LocalStripe) -> impl FnOnce(&mut postroom_server::Config) {
    let url = ls.url.clone();
    move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.to_owned().into());
        c.stripe_publishable_key = Some("pk_test_postroom".into());
        c.stripe_api_url = url.clone();
        c.stripe_js_url = format!("{url}/js.stripe.com/v3/");
    }
}

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in the page:\n{page}"))
        + start.len();
    let len = page[from..].find(end).expect("the value ends");
    &page[from..from + len]
}

/// A page's status and HTML.
async fn get(t: &TestApp, browser: &Client, path: &str) -> (StatusCode, String) {
    let r = browser.get(t.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Sends a form; the status, where it redirects to, and the HTML.
async fn post_form(
    t: &TestApp,
    browser: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let r = browser.post(t.url(path)).form(form).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Adds a card to the team through the API, as its admin.
async fn add_card(t: &TestApp, ls: &LocalStripe, token: &str, team: &str, number: &str) {
    let pm = ls.card(number).await;
    t.post(
        &format!("/api/v1/teams/{team}/billing/cards"),
        Some(token),
        json!({ "payment_method": pm }),
    )
    .await
    .assert(201, None);
}

/// The PaymentIntents localstripe holds for the team's customer (it
/// filters no list by customer, so the test does).
async fn intents(t: &TestApp, ls: &LocalStripe, team: &str) -> Vec<Value> {
    let mut c = t.app.store.conn().await.unwrap();
    let team = postroom_server::store::teams::by_slug(&mut c, team)
        .await
        .unwrap()
        .unwrap();
    let account = postroom_server::store::billing::account(&mut c, &team.id)
        .await
        .unwrap()
        .unwrap();
    let customer = account.customer_id.unwrap();
    let list = ls.get_json("/v1/payment_intents?limit=100").await;
    list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["customer"] == customer.as_str())
        .cloned()
        .collect()
}

/// What one seat of Pro costs a month, as the pages write it, times `seats`.
async fn pro_monthly(t: &TestApp, seats: i64) -> String {
    let plans = t.get("/api/v1/plans", None).await;
    let pro = plans.body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "pro")
        .unwrap()
        .clone();
    let price = &pro["prices"]["month"];
    format_money(
        price["amount"].as_i64().unwrap() * seats,
        price["currency"].as_str().unwrap(),
    )
}

const BILLING_PAGES: [&str; 6] = [
    "/billing",
    "/billing/plans",
    "/billing/cards",
    "/billing/history",
    "/billing/invoices",
    "/billing/cancel",
];

async fn billing_is_hidden_from_plain_members(db: Db) {
    let Some(ls) = LocalStripe::get("browser_billing::billing_is_hidden_from_plain_members") else {
        return;
    };
    let t = TestApp::spawn_with(db, with_localstripe(&ls)).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;

    let (admin, _) = browser_signed_in(&t, "ada").await;
    let (status, home) = get(&t, &admin, "/teams/acme").await;
    assert_eq!(status, 200);
    assert!(home.contains(r#"href="/teams/acme/billing""#), "{home}");
    for path in BILLING_PAGES {
        let (status, page) = get(&t, &admin, &format!("/teams/acme{path}")).await;
        assert_eq!(status, 200, "{path}: {page}");
    }

    let (member, csrf) = browser_signed_in(&t, "bob").await;
    let (status, home) = get(&t, &member, "/teams/acme").await;
    assert_eq!(status, 200);
    assert!(
        !home.contains("/billing"),
        "a member is shown no Billing tab"
    );
    for path in BILLING_PAGES {
        let (status, _) = get(&t, &member, &format!("/teams/acme{path}")).await;
        assert_eq!(status, 404, "{path}");
    }
    for (path, form) in [
        (
            "/billing/preview",
            vec![("plan", "pro"), ("cycle", "month"), ("seats", "5")],
        ),
        ("/billing/top-up", vec![("amount", "20"), ("key", "k1")]),
        ("/billing/trial", vec![]),
        ("/billing/cancel", vec![]),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let (status, _, _) = post_form(&t, &member, &format!("/teams/acme{path}"), &form).await;
        assert_eq!(status, 404, "{path}");
    }
    // The card script's endpoint too.
    let r = member
        .post(t.url("/teams/acme/billing/cards/setup"))
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // And without the page's token it is refused before anything else.
    let r = admin
        .post(t.url("/teams/acme/billing/cards/setup"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn without_a_provider_the_pages_name_the_operator(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    t.create_team(&ada, "acme").await;
    let (admin, csrf) = browser_signed_in(&t, "ada").await;

    let (status, page) = get(&t, &admin, "/teams/acme/billing").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Billing is managed by the operator of this server"),
        "{page}"
    );
    for action in ["/billing/top-up", "/billing/trial", "/billing/cancel\""] {
        assert!(!page.contains(action), "{action} is offered: {page}");
    }
    assert!(!page.contains("/billing/cards\""), "no Cards tab");
    let (status, plans) = get(&t, &admin, "/teams/acme/billing/plans").await;
    assert_eq!(status, 200);
    assert!(plans.contains("Billing is managed by the operator of this server"));
    assert!(!plans.contains("/billing/preview"), "no form to choose");

    // A form sent anyway is answered in words, with the API's 409.
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        page.contains("managed by the operator of this server: ask them"),
        "{page}"
    );
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/top-up",
        &[("csrf", &csrf), ("amount", "20"), ("key", "k1")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("managed by the operator"), "{page}");
}

async fn a_confirm_sent_twice_charges_once(db: Db) {
    let Some(ls) = LocalStripe::get("browser_billing::a_confirm_sent_twice_charges_once") else {
        return;
    };
    let t = TestApp::spawn_with(db, with_localstripe(&ls)).await;
    let ada = t.new_user("ada").await;
    t.create_team(&ada, "acme").await;
    add_card(&t, &ls, &ada, "acme", "4242424242424242").await;
    let (admin, csrf) = browser_signed_in(&t, "ada").await;

    // The preview shows the price before anything is charged.
    let (status, _, preview) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    let total = pro_monthly(&t, 5).await;
    assert_eq!(between(&preview, r#"<strong id="total">"#, "<"), total);
    let history = t
        .get("/api/v1/teams/acme/billing/history", Some(&ada))
        .await;
    assert!(
        !history.body.to_string().contains("Paid"),
        "nothing charged yet: {}",
        history.body
    );
    let quote = between(&preview, r#"name="quote" value=""#, "\"").to_owned();
    let key = between(&preview, r#"name="key" value=""#, "\"").to_owned();
    let form = [
        ("csrf", csrf.as_str()),
        ("plan", "pro"),
        ("cycle", "month"),
        ("seats", "5"),
        ("quote", quote.as_str()),
        ("key", key.as_str()),
    ];

    // Sent twice at once, and once more afterwards: one charge, and each
    // answer is the first one.
    let (first, second) = tokio::join!(
        post_form(&t, &admin, "/teams/acme/billing/change", &form),
        post_form(&t, &admin, "/teams/acme/billing/change", &form),
    );
    let third = post_form(&t, &admin, "/teams/acme/billing/change", &form).await;
    for (status, location, page) in [first, second, third] {
        assert_eq!(status, 303, "{page}");
        assert_eq!(location, "/teams/acme/billing?flash=plan_changed");
    }
    let succeeded: Vec<Value> = intents(&t, &ls, "acme")
        .await
        .into_iter()
        .filter(|i| i["status"] == "succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{succeeded:?}");
    let history = t
        .get("/api/v1/teams/acme/billing/history", Some(&ada))
        .await;
    let payments = history.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment_succeeded")
        .count();
    assert_eq!(payments, 1, "{}", history.body);
    let (_, overview) = get(&t, &admin, "/teams/acme/billing?flash=plan_changed").await;
    assert!(overview.contains("Pro plan"), "{overview}");
    assert!(overview.contains("The subscription was changed"));

    // A top-up sent twice adds its money once.
    let (_, page) = get(&t, &admin, "/teams/acme/billing").await;
    let key = between(&page, r#"name="key" value=""#, "\"").to_owned();
    let form = [
        ("csrf", csrf.as_str()),
        ("amount", "20"),
        ("key", key.as_str()),
    ];
    for _ in 0..2 {
        let (status, location, _) =
            post_form(&t, &admin, "/teams/acme/billing/top-up", &form).await;
        assert_eq!(status, 303);
        assert_eq!(location, "/teams/acme/billing?flash=topped_up");
    }
    let balance = t.get("/api/v1/teams/acme/billing", Some(&ada)).await.body["balance"]["amount"]
        .as_i64()
        .unwrap();
    assert_eq!(balance, 2000);

    // The invoice the change issued, its page and its PDF.
    let (_, list) = get(&t, &admin, "/teams/acme/billing/invoices").await;
    let id = between(&list, "/teams/acme/billing/invoices/", "\"").to_owned();
    let (status, invoice) = get(&t, &admin, &format!("/teams/acme/billing/invoices/{id}")).await;
    assert_eq!(status, 200);
    assert!(invoice.contains(&total), "{invoice}");
    let pdf = admin
        .get(t.url(&format!("/teams/acme/billing/invoices/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    let (_, history) = get(&t, &admin, "/teams/acme/billing/history").await;
    assert!(history.contains("added $20.00 to the balance"), "{history}");
}

async fn pages_show_a_refusal_in_words(db: Db) {
    let Some(ls) = LocalStripe::get("browser_billing::pages_show_a_refusal_in_words") else {
        return;
    };
    let t = TestApp::spawn_with(db, with_localstripe(&ls)).await;
    let ada = t.new_user("ada").await;
    t.create_team(&ada, "acme").await;
    let (admin, csrf) = browser_signed_in(&t, "ada").await;

    // No card yet: the change is refused with 402 and its reason.
    let (_, _, preview) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
        ],
    )
    .await;
    assert!(preview.contains("This needs a card"), "{preview}");
    let quote = between(&preview, r#"name="quote" value=""#, "\"").to_owned();
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/change",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
            ("quote", &quote),
            ("key", "first-try"),
        ],
    )
    .await;
    assert_eq!(status, 402, "{page}");
    assert!(page.contains(r#"class="flash error""#), "{page}");

    // A declined card: 402 in words, and nothing changed.
    add_card(&t, &ls, &ada, "acme", "4000000000000341").await;
    let (_, _, preview) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
        ],
    )
    .await;
    let quote = between(&preview, r#"name="quote" value=""#, "\"").to_owned();
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/change",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
            ("quote", &quote),
            ("key", "second-try"),
        ],
    )
    .await;
    assert_eq!(status, 402, "{page}");
    assert!(page.contains("declined"), "{page}");
    let (_, overview) = get(&t, &admin, "/teams/acme/billing").await;
    assert!(overview.contains("Free plan"));

    // Fewer seats than the team uses, and an amount that is none.
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "0"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Seats must be a whole number from 1"),
        "{page}"
    );
    let (status, _, page) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/top-up",
        &[("csrf", &csrf), ("amount", "lots"), ("key", "k")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("Enter an amount"), "{page}");

    // A card that wants 3-D Secure: the page that asks the bank, with
    // Stripe.js let in by its policy alone.
    let card = t
        .get("/api/v1/teams/acme/billing/cards", Some(&ada))
        .await
        .body["cards"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = post_form(
        &t,
        &admin,
        &format!("/teams/acme/billing/cards/{card}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    add_card(&t, &ls, &ada, "acme", "4000002760003184").await;
    let (_, _, preview) = post_form(
        &t,
        &admin,
        "/teams/acme/billing/preview",
        &[
            ("csrf", &csrf),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
        ],
    )
    .await;
    let quote = between(&preview, r#"name="quote" value=""#, "\"").to_owned();
    let r = admin
        .post(t.url("/teams/acme/billing/change"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("plan", "pro"),
            ("cycle", "month"),
            ("seats", "5"),
            ("quote", quote.as_str()),
            ("key", "third-try"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("script-src 'self' {}", ls.url)),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Your bank wants you to confirm the payment"));
    let secret = between(&page, r#"data-client-secret=""#, "\"").to_owned();
    let action = between(&page, r#"action="/teams/acme/billing/payments/"#, "\"").to_owned();
    // The card holder confirms with the bank (what Stripe.js does), then
    // the page asks for the payment again.
    let intent = secret.split("_secret_").next().unwrap();
    ls.authenticate(intent, &secret, true).await;
    let (status, location, _) = post_form(
        &t,
        &admin,
        &format!("/teams/acme/billing/payments/{action}"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/teams/acme/billing?flash=payment_confirmed");
    let (_, overview) = get(&t, &admin, "/teams/acme/billing").await;
    assert!(overview.contains("Pro plan"), "{overview}");
    // Other billing pages keep the strict policy.
    let r = admin
        .get(t.url("/teams/acme/billing"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains(&ls.url), "{csp}");
}

impl Browser {
    /// Types into an input of the provider's card element.
    async fn card_input(&self, placeholder: &str, value: &str) {
        let started = Instant::now();
        let css = format!("#card-element input[placeholder='{placeholder}']");
        let input = loop {
            match self.c.find(Locator::Css(&css)).await {
                Ok(e) => break e,
                Err(_) if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("the card element's {placeholder}: {e}"),
            }
        };
        input.send_keys(value).await.expect("type into the card");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_card_and_upgrades() {
    let name = "browser_billing_upgrade";
    let Some(ls) = LocalStripe::get("browser_billing::an_admin_adds_a_card_and_upgrades") else {
        return;
    };
    let config = with_localstripe(&ls);
    run(name, config, |w| async move {
        let b = &w.b;
        w.account("ada", "Ada Lovelace").await;
        let token = w.t.sign_in("ada", PASSWORD, false).await;
        w.t.create_team(&token, "acme").await;
        b.sign_in("ada", PASSWORD, false).await;

        b.goto("/teams/acme").await;
        b.follow_in("//nav[@aria-label='Team']", "Billing").await;
        b.expect_text("Free plan").await;
        b.expect_text("Start a 14-day Pro trial").await;

        // A card, through the provider's card element.
        b.follow_in("//nav[@aria-label='Billing']", "Cards").await;
        b.expect_text("No cards yet.").await;
        b.card_input("number", "4242424242424242").await;
        b.card_input("exp_month", "12").await;
        b.card_input("exp_year", "30").await;
        b.card_input("cvc", "123").await;
        b.card_input("postal_code", "42424").await;
        b.snap(&format!("{name}-card")).await;
        b.press("Add the card").await;
        b.expect_text("The card was added.").await;
        b.expect_text("Visa •••• 4242").await;
        b.expect_text("Default").await;

        // Pro with 5 seats: the price first, then the charge.
        b.follow_in("//nav[@aria-label='Billing']", "Plans").await;
        b.select("Plan", "Pro").await;
        b.select("Billing", "Monthly").await;
        b.fill("Seats", "5").await;
        b.press("Review the price").await;
        b.expect_text("Nothing is charged until you confirm.").await;
        let total = pro_monthly(&w.t, 5).await;
        let shown = b
            .one("//strong[@id='total']", "the total")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(shown, total);
        b.snap(&format!("{name}-preview")).await;
        b.press(&format!("Confirm and pay {total}")).await;
        b.expect_text("The subscription was changed.").await;
        b.expect_text("Pro plan").await;
        let status = b
            .one("//*[@id='billing-status']", "the status")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(status, "Active");
    })
    .await;
}
