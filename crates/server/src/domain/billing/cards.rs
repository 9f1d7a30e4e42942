//! Cards (B6): held by the payment provider; we keep its id, the brand, the
//! last 4 digits and the expiry. The browser gives the card to the
//! provider's own script and hands us only the payment method's id.

use postroom_core::api;
use postroom_core::TeamEvent;

use super::{lock_for, provider, record, views};
use crate::clock::Millis;
use crate::domain::actor::Actor;
use crate::domain::policy::{self, TeamAction};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::billing::CardRow;
use crate::store::{self, new_id};

/// Cards a team may keep.
pub const MAX_CARDS: usize = 10;

/// The team's cards, with what the page needs to add one.
pub async fn cards(app: &App, actor: &Actor, slug: &str) -> Result<api::CardList> {
    let mut c = app.store.conn().await?;
    let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
    let rows = store::billing::cards(&mut c, &access.team.id).await?;
    let now = app.clock.now();
    Ok(api::CardList {
        cards: rows.iter().map(|r| views::card(r, now)).collect(),
        publishable_key: app
            .settings
            .stripe
            .as_ref()
            .map(|s| s.publishable_key.clone()),
    })
}

/// The provider's customer of the team, made on first need.
pub(super) async fn customer(app: &App, team_id: &str, team_name: &str) -> Result<String> {
    let provider = provider(app)?;
    let now = app.clock.now();
    let account = {
        let mut tx = app.store.begin().await?;
        let a = store::billing::ensure_account(
            &mut tx,
            team_id,
            team_name,
            &app.settings.catalogue.currency,
            now,
        )
        .await?;
        tx.commit().await?;
        a
    };
    if let Some(id) = account.customer_id {
        return Ok(id);
    }
    let email = account.billing_email.clone().unwrap_or_default();
    let id = provider
        .create_customer(team_id, &email, team_name)
        .await
        .map_err(upstream)?;
    let mut tx = app.store.begin().await?;
    // Another request may have made one meanwhile: keep the first.
    let again = store::billing::account(&mut tx, team_id).await?;
    let id = match again.and_then(|a| a.customer_id) {
        Some(first) => first,
        None => {
            store::billing::set_customer(&mut tx, team_id, &id, now).await?;
            id
        }
    };
    tx.commit().await?;
    Ok(id)
}

pub(super) fn upstream(e: crate::billing::ProviderError) -> Error {
    match e {
        crate::billing::ProviderError::Rejected { code, message } => {
            tracing::info!(%code, %message, "the payment provider refused a request");
            Error::field(
                "payment_method",
                "card_rejected",
                format!("the payment provider refused the card: {message}"),
            )
        }
        crate::billing::ProviderError::Unknown(why) => {
            tracing::warn!(error = %why, "the payment provider did not answer");
            Error::Upstream {
                code: "provider_unavailable",
                message: "the payment provider did not answer; try again in a moment".into(),
            }
        }
    }
}

/// Starts saving a card from the browser: a SetupIntent of the team's
/// customer. The page's script confirms its client secret with the
/// provider's own card element (with the publishable key), then hands the
/// payment method it made to [`add_card`]. The client secret and the
/// publishable key.
pub async fn card_setup(app: &App, actor: &Actor, slug: &str) -> Result<(String, String)> {
    let provider = provider(app)?;
    let publishable_key = app
        .settings
        .stripe
        .as_ref()
        .map(|s| s.publishable_key.clone())
        .unwrap_or_default();
    let team = {
        let mut c = app.store.conn().await?;
        policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling)
            .await?
            .team
    };
    let customer = customer(app, &team.id, &team.name).await?;
    let intent = provider.setup_intent(&customer).await.map_err(upstream)?;
    Ok((intent.client_secret, publishable_key))
}

/// Adds a card the browser gave to the provider (`pm_...`). The team's
/// first card becomes its default; while an invoice is unpaid, the new card
/// becomes the default and is tried at once.
pub async fn add_card(
    app: &App,
    actor: &Actor,
    slug: &str,
    req: api::AddCard,
) -> Result<api::CardView> {
    let pm = req.payment_method.trim();
    if pm.is_empty()
        || pm.len() > 255
        || !pm.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Error::field(
            "payment_method",
            "invalid_payment_method",
            "payment_method must be the provider's id of the card (pm_...)",
        ));
    }
    let team = {
        let mut c = app.store.conn().await?;
        let access = policy::authorize(&mut c, actor, slug, TeamAction::ManageBilling).await?;
        if store::billing::cards(&mut c, &access.team.id).await?.len() >= MAX_CARDS {
            return Err(Error::conflict(
                "too_many_cards",
                None,
                format!("a team keeps at most {MAX_CARDS} cards: remove one first"),
            ));
        }
        access.team
    };
    let provider = provider(app)?;
    let customer = customer(app, &team.id, &team.name).await?;
    let info = provider
        .attach_card(&customer, pm)
        .await
        .map_err(upstream)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = lock_for(&mut tx, actor, slug).await?;
    let row = CardRow {
        id: new_id(),
        team_id: access.team.id.clone(),
        provider_id: info.id.clone(),
        brand: info.brand.clone(),
        last4: info.last4.clone(),
        exp_month: i64::from(info.exp_month),
        exp_year: i64::from(info.exp_year),
        is_default: 0,
        created_at: now,
    };
    if let Err(e) = store::billing::add_card(&mut tx, &row).await {
        if store::is_unique_violation(&e, "cards_provider_id") {
            return Err(Error::conflict(
                "card_exists",
                Some("payment_method"),
                "this card was added already",
            ));
        }
        return Err(e.into());
    }
    record(
        &mut tx,
        &access.team.id,
        Some(&actor.user_id),
        TeamEvent::BillingCardAdded {
            brand: info.brand,
            last4: info.last4,
        },
        now,
    )
    .await?;
    // With an unpaid invoice, the card just added is the one to pay it: it
    // becomes the default and is tried at once (B5).
    let retry = store::billing::retry_open_invoices(&mut tx, &access.team.id, now).await? > 0;
    if retry {
        store::billing::set_default_card(&mut tx, &access.team.id, &row.id).await?;
    }
    tx.commit().await?;
    if retry {
        if let Err(e) = super::payments::retry_team(app, &access.team.id).await {
            tracing::error!(team = %access.team.id, error = ?e, "paying open invoices with a new card failed");
        }
    }
    let row = store::billing::card(&mut *app.store.conn().await?, &access.team.id, &row.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a card just added vanished"))?;
    Ok(views::card(&row, now))
}

/// Makes a card the default one.
pub async fn set_default_card(
    app: &App,
    actor: &Actor,
    slug: &str,
    id: &str,
) -> Result<api::CardView> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = lock_for(&mut tx, actor, slug).await?;
    let card = store::billing::card(&mut tx, &access.team.id, id)
        .await?
        .ok_or(Error::NotFound { what: "card" })?;
    if card.is_default == 0 {
        store::billing::set_default_card(&mut tx, &access.team.id, id).await?;
        record(
            &mut tx,
            &access.team.id,
            Some(&actor.user_id),
            TeamEvent::BillingDefaultCardSet {
                brand: card.brand.clone(),
                last4: card.last4.clone(),
            },
            now,
        )
        .await?;
    }
    let card = store::billing::card(&mut tx, &access.team.id, id)
        .await?
        .ok_or(Error::NotFound { what: "card" })?;
    tx.commit().await?;
    Ok(views::card(&card, now))
}

/// Removes a card, at the provider too.
pub async fn remove_card(app: &App, actor: &Actor, slug: &str, id: &str) -> Result<()> {
    let now: Millis = app.clock.now();
    let mut tx = app.store.begin().await?;
    let access = lock_for(&mut tx, actor, slug).await?;
    let provider = provider(app)?;
    let card = store::billing::card(&mut tx, &access.team.id, id)
        .await?
        .ok_or(Error::NotFound { what: "card" })?;
    if !store::billing::unsettled_of_team(&mut tx, &access.team.id, None, None)
        .await?
        .iter()
        .all(|p| p.card_id.as_deref() != Some(id))
    {
        return Err(super::subscription::payment_in_progress());
    }
    store::billing::delete_card(&mut tx, &access.team.id, id).await?;
    record(
        &mut tx,
        &access.team.id,
        Some(&actor.user_id),
        TeamEvent::BillingCardRemoved {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    if let Err(e) = provider.detach_card(&card.provider_id).await {
        // Ours is gone either way; the provider's copy is charged never again.
        tracing::warn!(card = %card.id, error = %e, "detaching a card at the provider failed");
    }
    Ok(())
}
