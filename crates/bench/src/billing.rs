//! The billing figures, measured in-process against the server crate on a
//! fresh database (SQLite, or PostgreSQL with `--postgres`): the latency of
//! a preview (a priced quote, written) against reading the same team's
//! billing overview, and a renewal run of 10,000 subscriptions against
//! writing the same number of ledger entries alone. Nothing reaches a card:
//! renewals are paid from the balance, so the provider is never called.

use std::time::{Duration, Instant};

use anyhow::Context;
use postroom_server::clock::{Clock, DAY};
use postroom_server::domain::actor::Actor;
use postroom_server::domain::billing;
use postroom_server::state::App;
use postroom_server::store::{self, billing as bs};

use super::{ms, Bench, Row};

/// Previews (and overviews) timed, one after the other.
const PREVIEWS: usize = 300;
/// Subscriptions renewed in one run.
const RENEWALS: usize = 10_000;
/// Targets: a preview within this many overview reads; a renewal within
/// this many bare ledger writes.
const PREVIEW_TARGET: f64 = 4.0;
const RENEWAL_TARGET: f64 = 10.0;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Bench {
    async fn billing_app(
        &self,
        name: &str,
        clock: Clock,
    ) -> anyhow::Result<(App, Option<super::PgDatabase>)> {
        let data_dir = self.dir.path().join(format!("{name}-data"));
        std::fs::create_dir_all(&data_dir)?;
        let mut config = postroom_server::Config::defaults();
        config.data_dir = data_dir;
        config.rate_limits = false;
        // A provider is configured (billing is on) but never called: every
        // renewal here is paid from the balance.
        config.stripe_secret_key = Some("sk_bench".to_owned().into());
        config.stripe_publishable_key = Some("pk_bench".into());
        config.stripe_api_url = "http://127.0.0.1:9".into();
        let pg = match &self.postgres {
            Some(admin) => Some(super::PgDatabase::create(admin, "postroom_bench").await?),
            None => None,
        };
        if let Some(pg) = &pg {
            config.database_url = Some(pg.url.clone().into());
        }
        let settings = config.validate()?;
        Ok((App::new(settings, clock).await?, pg))
    }

    pub(super) fn billing(&mut self) -> anyhow::Result<()> {
        eprintln!("billing: {PREVIEWS} previews against overviews; renewing {RENEWALS} subscriptions against bare ledger writes");
        let start = Clock::System.now();
        let clock = Clock::manual(start);
        let rt = tokio::runtime::Runtime::new()?;
        let (preview, overview, renewal, ledger) = rt.block_on(async {
            let (app, pg) = self.billing_app("billing", clock.clone()).await?;
            let now = clock.now();
            // One team on Pro for the preview figure, with a balance.
            let (actor, slug) = seed_team(&app, "preview", now).await?;
            let mut previews = Vec::with_capacity(PREVIEWS);
            let mut overviews = Vec::with_capacity(PREVIEWS);
            for n in 0..PREVIEWS {
                let req = postroom_core::api::PreviewRequest {
                    plan: "business".into(),
                    cycle: postroom_core::Cycle::Month,
                    seats: 5 + (n % 10) as u32,
                };
                let t = Instant::now();
                billing::preview(&app, &actor, &slug, req).await?;
                previews.push(t.elapsed());
                let t = Instant::now();
                billing::overview(&app, &actor, &slug).await?;
                overviews.push(t.elapsed());
            }
            previews.sort();
            overviews.sort();

            // 10,000 teams whose period ends now, each with a balance that
            // pays its renewal.
            seed_renewals(&app, now).await?;
            clock.advance(32 * DAY);
            let t = Instant::now();
            let mut renewed = 0;
            loop {
                let n = billing::run_due(&app).await?;
                if n == 0 {
                    break;
                }
                renewed += n;
            }
            let renewal = t.elapsed();
            anyhow::ensure!(renewed >= RENEWALS, "renewed {renewed} of {RENEWALS}");
            // The baseline: the same number of ledger entries, one
            // transaction each, as bare writes.
            let t = Instant::now();
            for n in 0..RENEWALS {
                let mut tx = app.store.begin().await?;
                bs::add_entry(
                    &mut tx,
                    &bs::NewEntry {
                        team_id: "baseline",
                        amount: 1,
                        currency: "usd",
                        kind: "top_up",
                        description: "baseline",
                        source: &format!("baseline:{n}"),
                        invoice_id: None,
                        created_by: None,
                    },
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            let ledger = t.elapsed();
            app.store.close().await;
            if let Some(pg) = pg {
                pg.drop_now().await?;
            }
            anyhow::Ok((previews, overviews, renewal, ledger))
        })?;
        let (p50, base50) = (percentile(&preview, 0.5), percentile(&overview, 0.5));
        let ratio = p50.as_secs_f64() / base50.as_secs_f64();
        self.rows.push(Row {
            figure: "billing preview p50",
            value: format!(
                "{} (p99 {})",
                ms(p50.as_micros() as u64),
                ms(percentile(&preview, 0.99).as_micros() as u64)
            ),
            baseline: format!("overview {}", ms(base50.as_micros() as u64)),
            ratio: Some(ratio),
            target: format!("<= {PREVIEW_TARGET}"),
            pass: ratio <= PREVIEW_TARGET,
        });
        let ratio = renewal.as_secs_f64() / ledger.as_secs_f64();
        self.rows.push(Row {
            figure: "renew 10,000 subscriptions",
            value: format!(
                "{:.1} s ({:.0}/s)",
                renewal.as_secs_f64(),
                RENEWALS as f64 / renewal.as_secs_f64()
            ),
            baseline: format!("{:.1} s of ledger writes", ledger.as_secs_f64()),
            ratio: Some(ratio),
            target: format!("<= {RENEWAL_TARGET}"),
            pass: ratio <= RENEWAL_TARGET,
        });
        Ok(())
    }
}

/// A verified account with a team on Pro (5 seats, monthly) and a balance.
async fn seed_team(app: &App, name: &str, now: i64) -> anyhow::Result<(Actor, String)> {
    let mut tx = app.store.begin().await?;
    let email = format!("{name}@example.com");
    let user = store::users::insert(
        &mut tx,
        &store::users::NewUser {
            username: name,
            username_key: name,
            email: &email,
            email_key: &email,
            password_hash: "",
        },
        now,
    )
    .await?;
    store::users::mark_email_verified(&mut tx, &user.id, now).await?;
    let team = new_team(&mut tx, name, &user.id, now).await?;
    tx.commit().await?;
    Ok((
        Actor {
            user_id: user.id,
            session_id: None,
            can_write: true,
        },
        team,
    ))
}

/// A team on Pro whose admin is `user_id`, with a subscription from `now`
/// and enough balance for a year of renewals; returns its slug.
async fn new_team(
    tx: &mut store::Tx,
    slug: &str,
    user_id: &str,
    now: i64,
) -> anyhow::Result<String> {
    let team = store::teams::insert(
        tx,
        &store::teams::NewTeam {
            name: slug,
            slug,
            plan: "pro",
            seats: 5,
            created_by: user_id,
        },
        now,
    )
    .await
    .context("a team")?;
    store::teams::insert_member(tx, &team.id, user_id, "admin", false, now).await?;
    let period_end =
        postroom_core::billing::add_cycles(now / 1000, 1, postroom_core::Cycle::Month) * 1000;
    bs::put_subscription(
        tx,
        &bs::SubscriptionRow {
            team_id: team.id.clone(),
            plan: "pro".into(),
            cycle: "month".into(),
            seats: 5,
            unit_price: 1200,
            currency: "usd".into(),
            status: "active".into(),
            anchor: now,
            period_start: now,
            period_end,
            cancel_at_period_end: 0,
            trial_ends_at: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    bs::ensure_account(tx, &team.id, slug, "usd", now).await?;
    bs::add_entry(
        tx,
        &bs::NewEntry {
            team_id: &team.id,
            amount: 1_000_000,
            currency: "usd",
            kind: "top_up",
            description: "seed",
            source: &format!("seed:{}", team.id),
            invoice_id: None,
            created_by: None,
        },
        now,
    )
    .await?;
    Ok(slug.to_owned())
}

async fn seed_renewals(app: &App, now: i64) -> anyhow::Result<()> {
    let mut tx = app.store.begin().await?;
    let user = store::users::insert(
        &mut tx,
        &store::users::NewUser {
            username: "owner",
            username_key: "owner",
            email: "owner@example.com",
            email_key: "owner@example.com",
            password_hash: "",
        },
        now,
    )
    .await?;
    tx.commit().await?;
    for start in (0..RENEWALS).step_by(500) {
        let mut tx = app.store.begin().await?;
        for n in start..(start + 500).min(RENEWALS) {
            new_team(&mut tx, &format!("renew-{n}"), &user.id, now).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
