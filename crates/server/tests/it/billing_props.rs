//! Property tests of billing through the domain and the store (B2, B3, B8),
//! against localstripe as the payment provider: random sequences of changes
//! of plan, cycle and seats (each previewed, then applied with its quote),
//! moves of the clock within the period and top-ups written to the ledger.
//! The team's balance is seeded so large that no card is ever charged, so
//! every change is paid (or credited) through the balance alone. After each
//! step: the invoice holds exactly the quote's lines and totals (preview
//! equals charge), its subtotal is the sum of its lines and its total is
//! `from_balance + from_card`, a credit goes to the balance and never
//! exceeds what the period was bought for, and the balance the API shows is
//! `store::billing::balance` and the sum of the ledger's entries. Going up
//! and back down by some seats at the same instant nets 0.
//!
//! Each case runs against a real server, so there are few of them (and on
//! SQLite only); the pure proration and ledger functions have their own
//! property tests with many more cases in `postroom_core::billing`.

use std::cell::Cell;

use postroom_server::clock::DAY;
use postroom_server::store::{self, billing::NewEntry};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::localstripe::{LocalStripe, SECRET_KEY};
use crate::common::{Db, TestApp, PASSWORD};

/// Enough that no change in these tests needs the card.
const SEED: i64 = 10_000_000_000;
/// Members of every team (its admin and one more): seats never go below.
const MEMBERS: u32 = 2;

#[derive(Debug, Clone)]
enum Step {
    /// Preview, then apply with the quote.
    Change {
        plan: &'static str,
        cycle: &'static str,
        seats: u32,
    },
    /// Moves the clock by this many thousandths of what is left of the
    /// period (at most 40 days of it), so that nothing renews.
    Advance { per_mille: i64 },
    /// An entry written to the ledger directly.
    TopUp { amount: i64 },
    /// `more` seats, then back, at the same instant (same plan and cycle).
    UpAndDown { more: u32 },
}

fn change() -> impl Strategy<Value = Step> {
    (
        prop::sample::select(vec!["pro", "business", "enterprise"]),
        prop::sample::select(vec!["month", "year"]),
        MEMBERS..=40,
    )
        .prop_map(|(plan, cycle, seats)| Step::Change { plan, cycle, seats })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => change(),
        3 => (0i64..1000).prop_map(|per_mille| Step::Advance { per_mille }),
        1 => (1i64..=100_000).prop_map(|amount| Step::TopUp { amount }),
        2 => (1u32..=20).prop_map(|more| Step::UpAndDown { more }),
    ]
}

/// The first step leaves Free, so that the others start from a paid plan.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    (change(), prop::collection::vec(step(), 1..10)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

fn amount(v: &Value) -> i64 {
    v["amount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no amount in {v}"))
}

/// What the cases did, so that a run that checked nothing fails.
#[derive(Default)]
struct Tally {
    changes: Cell<u32>,
    credits: Cell<u32>,
    up_and_downs: Cell<u32>,
}

/// One case's team, and who acts in it.
struct Case<'a> {
    t: &'a TestApp,
    tally: &'a Tally,
    slug: String,
    team_id: String,
    admin: String,
    /// For the `Idempotency-Key` of each change.
    keys: Cell<u32>,
}

impl Case<'_> {
    async fn balance(&self) -> i64 {
        let mut c = self.t.app.store.conn().await.unwrap();
        store::billing::balance(&mut c, &self.team_id)
            .await
            .unwrap()
    }

    /// The API's balance is the store's, and the store's is the sum of the
    /// ledger's entries.
    async fn ledger_is_whole(&self) -> Result<(), TestCaseError> {
        let r = self
            .t
            .get(
                &format!("/api/v1/teams/{}/billing", self.slug),
                Some(&self.admin),
            )
            .await;
        r.assert(200, None);
        let shown = amount(&r.body["balance"]);
        let mut c = self.t.app.store.conn().await.unwrap();
        let stored = store::billing::balance(&mut c, &self.team_id)
            .await
            .unwrap();
        let entries = store::billing::entries(&mut c, &self.team_id, 100_000)
            .await
            .unwrap();
        let sum: i64 = entries.iter().map(|e| e.amount).sum();
        prop_assert_eq!(shown, stored, "the API's balance is the store's");
        prop_assert_eq!(
            stored,
            sum,
            "the balance is the sum of {} entries",
            entries.len()
        );
        Ok(())
    }

    /// Previews the change and applies it with its quote; None when it
    /// changes nothing (the team is on it already).
    async fn change(
        &self,
        plan: &str,
        cycle: &str,
        seats: u32,
    ) -> Result<Option<i64>, TestCaseError> {
        let t = self.t;
        let body = json!({"plan": plan, "cycle": cycle, "seats": seats});
        let r = t
            .post(
                &format!("/api/v1/teams/{}/billing/preview", self.slug),
                Some(&self.admin),
                body.clone(),
            )
            .await;
        if r.status.as_u16() == 409 && r.code() == "no_change" {
            return Ok(None);
        }
        r.assert(200, None);
        let quote = r.body["quote"].clone();
        let mut c = t.app.store.conn().await.unwrap();
        let before = store::billing::subscription(&mut c, &self.team_id)
            .await
            .unwrap();
        let balance_before = self.balance().await;

        let n = self.keys.get() + 1;
        self.keys.set(n);
        let mut body = body;
        body["quote"] = quote["id"].clone();
        let r = t
            .client
            .request(
                Method::PUT,
                t.url(&format!("/api/v1/teams/{}/billing/subscription", self.slug)),
            )
            .bearer_auth(&self.admin)
            .header("idempotency-key", format!("change-{n}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let r = TestApp::read(r).await;
        r.assert(200, None);
        prop_assert_eq!(&r.body["overview"]["plan"], plan);
        prop_assert_eq!(&r.body["overview"]["seats"]["total"], seats);

        // Preview equals charge: the same lines and the same totals.
        let invoice = &r.body["invoice"];
        prop_assert_eq!(&invoice["lines"], &quote["lines"]);
        for k in ["subtotal", "from_balance", "from_card", "total"] {
            prop_assert_eq!(amount(&invoice[k]), amount(&quote[k]), "{}", k);
        }
        prop_assert_eq!(&invoice["status"], "paid");

        // The invoice as stored: its lines add up, and the balance paid it.
        let id = invoice["id"].as_str().unwrap();
        let row = store::billing::invoice_by_id(&mut c, id)
            .await
            .unwrap()
            .expect("the invoice is stored");
        let lines = store::billing::invoice_lines(&mut c, id).await.unwrap();
        prop_assert_eq!(row.subtotal, lines.iter().map(|l| l.amount).sum::<i64>());
        prop_assert_eq!(row.total, row.from_balance + row.from_card);
        prop_assert_eq!(row.subtotal, amount(&quote["subtotal"]));
        prop_assert!(row.from_card >= 0, "a credit never goes to a card");
        prop_assert_eq!(row.from_card, 0, "the balance covers it");
        prop_assert_eq!(row.from_balance, row.subtotal);
        // A credit never exceeds what the period was bought for.
        for l in lines.iter().filter(|l| l.amount < 0) {
            let Some(b) = &before else {
                return Err(TestCaseError::fail(format!(
                    "a credit line without a subscription: {l:?}"
                )));
            };
            prop_assert!(
                -l.amount <= b.seats * b.unit_price,
                "{:?} credits more than {} seats at {}",
                l,
                b.seats,
                b.unit_price
            );
        }
        // What the balance paid left it; a downgrade's credit went to it.
        prop_assert_eq!(self.balance().await, balance_before - row.from_balance);
        let payments = store::billing::recent_payments(&mut c, &self.team_id, 10)
            .await
            .unwrap();
        prop_assert!(payments.is_empty(), "no card was charged: {:?}", payments);
        bump(&self.tally.changes);
        if row.subtotal < 0 {
            bump(&self.tally.credits);
        }
        Ok(Some(row.total))
    }

    async fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let t = self.t;
        match step {
            Step::Change { plan, cycle, seats } => {
                self.change(plan, cycle, *seats).await?;
            }
            Step::Advance { per_mille } => {
                let mut c = t.app.store.conn().await.unwrap();
                let sub = store::billing::subscription(&mut c, &self.team_id)
                    .await
                    .unwrap();
                let left = match sub {
                    Some(s) => s.period_end - t.clock.now(),
                    None => DAY,
                };
                t.clock.advance(left.min(40 * DAY) * per_mille / 1000);
                // Moving the clock by days ends the sessions made before.
                self.admin = t.sign_in("alice", PASSWORD, false).await;
            }
            Step::TopUp { amount } => {
                let source = format!("test-top-up:{}", uuid::Uuid::now_v7());
                let mut tx = t.app.store.begin().await.unwrap();
                let added = store::billing::add_entry(
                    &mut tx,
                    &NewEntry {
                        team_id: &self.team_id,
                        amount: *amount,
                        currency: "usd",
                        kind: "top_up",
                        description: "Top-up",
                        source: &source,
                        invoice_id: None,
                        created_by: None,
                    },
                    t.clock.now(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                prop_assert!(added);
            }
            Step::UpAndDown { more } => {
                let mut c = t.app.store.conn().await.unwrap();
                let s = store::billing::subscription(&mut c, &self.team_id)
                    .await
                    .unwrap()
                    .expect("the first step left Free");
                let seats = u32::try_from(s.seats).unwrap();
                let before = self.balance().await;
                let up = self.change(&s.plan, &s.cycle, seats + more).await?;
                let down = self.change(&s.plan, &s.cycle, seats).await?;
                prop_assert!(up.is_some() && down.is_some());
                prop_assert_eq!(
                    self.balance().await,
                    before,
                    "up by {} seats and down again nets 0 ({:?} then {:?})",
                    more,
                    up,
                    down
                );
                let after = store::billing::subscription(&mut c, &self.team_id)
                    .await
                    .unwrap()
                    .unwrap();
                prop_assert_eq!(
                    (after.seats, after.period_start, after.period_end),
                    (s.seats, s.period_start, s.period_end)
                );
                bump(&self.tally.up_and_downs);
            }
        }
        self.ledger_is_whole().await
    }
}

fn bump(n: &Cell<u32>) {
    n.set(n.get() + 1);
}

async fn run_case(t: &TestApp, tally: &Tally, n: u32, steps: &[Step]) -> Result<(), TestCaseError> {
    let admin = t.sign_in("alice", PASSWORD, false).await;
    let member = t.sign_in("bob", PASSWORD, false).await;
    let slug = format!("props-{n}");
    t.create_team(&admin, &slug).await;
    t.join_team(&admin, &slug, &member).await;
    let team_id = {
        let mut c = t.app.store.conn().await.unwrap();
        store::teams::by_slug(&mut c, &slug)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    {
        let mut tx = t.app.store.begin().await.unwrap();
        store::billing::add_entry(
            &mut tx,
            &NewEntry {
                team_id: &team_id,
                amount: SEED,
                currency: "usd",
                kind: "top_up",
                description: "Seed",
                source: &format!("test-seed:{team_id}"),
                invoice_id: None,
                created_by: None,
            },
            t.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let mut case = Case {
        t,
        tally,
        slug,
        team_id,
        admin,
        keys: Cell::new(0),
    };
    case.ledger_is_whole().await?;
    for s in steps {
        case.step(s).await?;
    }
    Ok(())
}

/// Preview equals charge, invoices add up and the ledger stays whole over
/// random sequences of changes, clock moves and top-ups.
#[test]
fn changes_charge_their_preview_and_keep_the_ledger_whole() {
    let test = "billing_props::changes_charge_their_preview_and_keep_the_ledger_whole";
    let Some(ls) = LocalStripe::get(test) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = ls.url.clone();
    let t = rt.block_on(TestApp::spawn_with(Db::Sqlite, move |c| {
        c.stripe_secret_key = Some(SECRET_KEY.to_owned().into());
        c.stripe_publishable_key = Some("pk_test_postroom".into());
        c.stripe_webhook_secret = Some("whsec_postroom_test".to_owned().into());
        c.stripe_api_url = url;
        // Many requests from one address.
        c.rate_limits = false;
    }));
    rt.block_on(async {
        t.new_user("alice").await;
        t.new_user("bob").await;
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let cases = Cell::new(0u32);
    let tally = Tally::default();
    let result = runner.run(&steps(), |steps| {
        bump(&cases);
        rt.block_on(run_case(&t, &tally, cases.get(), &steps))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (changes, credits, up_and_downs) = (
        tally.changes.get(),
        tally.credits.get(),
        tally.up_and_downs.get(),
    );
    eprintln!(
        "{test}: {} cases, {changes} changes ({credits} credited), {up_and_downs} up-and-down pairs",
        cases.get()
    );
    assert!(
        changes >= 48 && credits > 0 && up_and_downs > 0,
        "too little was checked: {changes} changes, {credits} credits, {up_and_downs} pairs"
    );
    rt.block_on(t.stop());
}
