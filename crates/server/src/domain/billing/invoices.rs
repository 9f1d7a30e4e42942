//! Invoices and credit notes (B8): issued with the next gapless number,
//! never changed after (only their status moves from open to paid or
//! uncollectible), read as JSON and as a PDF that is the same bytes each
//! time. Also what a deleted team leaves behind.

use postroom_core::api;
use postroom_core::billing::{
    self as money, change_lines, format_date, format_money, Line, Period,
};

use super::{free_priced, ms, priced, secs, views};
use crate::clock::Millis;
use crate::domain::actor::Actor;
use crate::domain::policy::{self, TeamAction};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::billing::{InvoiceRow, LineRow, NewEntry};
use crate::store::{self, new_id, teams::TeamRow, Tx};

/// What a new invoice holds.
pub(super) struct Issue<'a> {
    /// subscription, renewal or credit_note.
    pub kind: &'static str,
    pub lines: &'a [Line],
    pub split: money::Split,
    pub period: Option<Period>,
    /// Paid now (from the balance, or by a payment that succeeded).
    pub paid: bool,
    pub corrects: Option<&'a str>,
    pub created_by: Option<&'a str>,
}

/// Invoice numbers: a prefix and 8 digits, so that they sort as text.
fn number(n: i64) -> String {
    format!("PR-{n:08}")
}

/// Issues an invoice in the caller's transaction: the next number, the
/// lines, a snapshot of who is billed, and the balance entry for what the
/// balance paid (or was credited).
pub(super) async fn issue(
    app: &App,
    tx: &mut Tx,
    team: &TeamRow,
    i: Issue<'_>,
    now: Millis,
) -> Result<InvoiceRow> {
    let account = store::billing::ensure_account(
        tx,
        &team.id,
        &team.name,
        &app.settings.catalogue.currency,
        now,
    )
    .await?;
    let details: api::BillingDetails = serde_json::from_str(&account.details).unwrap_or_default();
    let billing = serde_json::json!({
        "team": team.name,
        "slug": team.slug,
        "email": account.billing_email,
        "details": details,
    });
    let n = store::billing::next_invoice_number(tx).await?;
    let row = InvoiceRow {
        id: new_id(),
        team_id: team.id.clone(),
        number: number(n),
        kind: i.kind.into(),
        status: if i.paid { "paid" } else { "open" }.into(),
        currency: app.settings.catalogue.currency.clone(),
        subtotal: i.split.subtotal,
        from_balance: i.split.from_balance,
        from_card: i.split.from_card,
        total: i.split.total,
        period_start: i.period.map(|p| ms(p.start)),
        period_end: i.period.map(|p| ms(p.end)),
        billing: billing.to_string(),
        corrects: i.corrects.map(str::to_owned),
        issued_at: now,
        paid_at: i.paid.then_some(now),
        attempts: 0,
        next_attempt_at: None,
        created_by: i.created_by.map(str::to_owned),
    };
    let lines: Vec<LineRow> = i
        .lines
        .iter()
        .enumerate()
        .map(|(n, l)| LineRow {
            invoice_id: row.id.clone(),
            position: n as i64,
            description: l.description.clone(),
            amount: l.amount,
            period_start: ms(l.period.start),
            period_end: ms(l.period.end),
            proration: i64::from(l.proration),
        })
        .collect();
    store::billing::insert_invoice(tx, &row, &lines).await?;
    if i.split.from_balance != 0 {
        let (kind, description) = if i.split.from_balance > 0 {
            ("invoice", format!("Paid towards {}", row.number))
        } else {
            ("credit", format!("Credit from {}", row.number))
        };
        store::billing::add_entry(
            tx,
            &NewEntry {
                team_id: &team.id,
                amount: -i.split.from_balance,
                currency: &row.currency,
                kind,
                description: &description,
                source: &format!("invoice:{}:balance", row.id),
                invoice_id: Some(&row.id),
                created_by: i.created_by,
            },
            now,
        )
        .await?;
    }
    Ok(row)
}

/// The team's invoices, newest first (`before`: the previous page's `next`).
pub async fn invoices(
    app: &App,
    actor: &Actor,
    slug: &str,
    before: Option<&str>,
) -> Result<api::InvoiceList> {
    const PAGE: i64 = 50;
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
    let before = before.map(str::trim).filter(|s| !s.is_empty());
    let mut rows = store::billing::invoices(&mut c, &access.team.id, before, PAGE + 1).await?;
    let next = if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.number.clone())
    } else {
        None
    };
    let mut invoices = Vec::with_capacity(rows.len());
    for r in &rows {
        invoices.push(views::invoice(app, &mut c, r).await?);
    }
    Ok(api::InvoiceList { invoices, next })
}

async fn load(
    app: &App,
    actor: &Actor,
    slug: &str,
    id: &str,
) -> Result<(InvoiceRow, Vec<LineRow>)> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
    let row = store::billing::invoice(&mut c, &access.team.id, id.trim())
        .await?
        .ok_or(Error::NotFound { what: "invoice" })?;
    let lines = store::billing::invoice_lines(&mut c, &row.id).await?;
    Ok((row, lines))
}

pub async fn invoice(app: &App, actor: &Actor, slug: &str, id: &str) -> Result<api::InvoiceView> {
    let (row, _) = load(app, actor, slug, id).await?;
    views::invoice(app, &mut *app.store.conn().await?, &row).await
}

/// The invoice as a PDF, and its file name.
pub async fn invoice_pdf(
    app: &App,
    actor: &Actor,
    slug: &str,
    id: &str,
) -> Result<(String, Vec<u8>)> {
    let (row, lines) = load(app, actor, slug, id).await?;
    let doc = document(app, &row, &lines);
    Ok((format!("{}.pdf", row.number), postroom_pdf::render(&doc)))
}

fn document(app: &App, row: &InvoiceRow, lines: &[LineRow]) -> postroom_pdf::InvoiceDocument {
    let billing: serde_json::Value = serde_json::from_str(&row.billing).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let mut bill_to: Vec<String> = Vec::new();
    let details = &billing["details"];
    bill_to.extend(text(&details["name"]).or_else(|| text(&billing["team"])));
    for key in ["address_line1", "address_line2"] {
        bill_to.extend(text(&details[key]));
    }
    let city: Vec<String> = ["postal_code", "city"]
        .iter()
        .filter_map(|k| text(&details[*k]))
        .collect();
    if !city.is_empty() {
        bill_to.push(city.join(" "));
    }
    bill_to.extend(text(&details["country"]));
    if let Some(tax) = text(&details["tax_id"]) {
        bill_to.push(format!("Tax id: {tax}"));
    }
    bill_to.extend(text(&billing["email"]));
    let cur = &row.currency;
    let status = match (row.status.as_str(), row.paid_at) {
        ("paid", Some(at)) => format!("Paid {}", format_date(secs(at))),
        ("uncollectible", _) => "Unpaid (uncollectible)".into(),
        _ => "Due".into(),
    };
    let mut seller = vec![
        "Postroom".to_owned(),
        app.settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
    ];
    if let Some(s) = &app.settings.support_email {
        seller.push(s.email.to_string());
    }
    postroom_pdf::InvoiceDocument {
        title: if row.kind == "credit_note" {
            "Credit note"
        } else {
            "Invoice"
        }
        .into(),
        number: row.number.clone(),
        status,
        issued: format_date(secs(row.issued_at)),
        due: None,
        seller,
        bill_to,
        lines: lines
            .iter()
            .map(|l| postroom_pdf::DocLine {
                description: l.description.clone(),
                period: Some(format!(
                    "{} – {}",
                    format_date(secs(l.period_start)),
                    format_date(secs(l.period_end))
                )),
                amount: format_money(l.amount, cur),
            })
            .collect(),
        totals: vec![
            ("Subtotal".into(), format_money(row.subtotal, cur)),
            ("From balance".into(), format_money(row.from_balance, cur)),
            ("From card".into(), format_money(row.from_card, cur)),
            ("Total".into(), format_money(row.total, cur)),
        ],
        footer: row
            .corrects
            .as_ref()
            .map(|c| vec![format!("Corrects invoice {c}.")])
            .unwrap_or_default(),
    }
}

/// Before a team is deleted (in the caller's transaction, which holds its
/// lock): refused while a payment is in flight; otherwise the subscription
/// ends at once, the unused time of a paid period is issued as a credit
/// note to the balance, and the whole balance is then written off in the
/// ledger (nothing is refunded to a card). The billing account, ledger,
/// payments and invoices stay for the operator's records.
pub async fn close_for_deletion(app: &App, tx: &mut Tx, team: &TeamRow, now: Millis) -> Result<()> {
    if !store::billing::unsettled_of_team(tx, &team.id, None, None)
        .await?
        .is_empty()
    {
        return Err(super::subscription::payment_in_progress());
    }
    let account = store::billing::account(tx, &team.id).await?;
    let sub = store::billing::subscription(tx, &team.id).await?;
    if account.is_none() && sub.is_none() {
        return Ok(());
    }
    if let Some(sub) = &sub {
        let old = priced(sub);
        if old.paid {
            let current = Period {
                start: secs(sub.period_start),
                end: secs(sub.period_end),
            };
            let lines = change_lines(&old, &free_priced(), current, secs(now));
            let credit = lines.iter().map(|l| l.amount).sum::<i64>();
            if credit < 0 {
                issue(
                    app,
                    tx,
                    team,
                    Issue {
                        kind: "credit_note",
                        lines: &lines,
                        split: money::split(&lines, 0),
                        period: Some(current),
                        paid: true,
                        corrects: None,
                        created_by: None,
                    },
                    now,
                )
                .await?;
            }
        }
        super::payments::end_plan(app, tx, team, "team_deleted", now).await?;
    }
    let balance = store::billing::balance(tx, &team.id).await?;
    if balance != 0 {
        store::billing::add_entry(
            tx,
            &NewEntry {
                team_id: &team.id,
                amount: -balance,
                currency: &app.settings.catalogue.currency,
                kind: "write_off",
                description: "Written off: the team was deleted",
                source: &format!("deleted:{}", team.id),
                invoice_id: None,
                created_by: None,
            },
            now,
        )
        .await?;
    }
    if account.is_some() {
        store::billing::mark_account_deleted(tx, &team.id, now).await?;
    }
    Ok(())
}
