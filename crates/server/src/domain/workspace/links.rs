//! Public read-only links to a collection (S2). Anyone who may read a
//! collection may make a link to it; the link's URL answers the collection's
//! JSON to anyone who has it (so `newman run <url>` works), until it is
//! revoked. A link speaks for the person who made it: when they can no
//! longer read the collection (they left its team, it was deleted), the
//! link stops working. Links to a team's collections belong to the team:
//! its admins see and revoke all of them.
//!
//! The URL is `/l/<id>.<mac>`, the MAC an HMAC of the id under a server key:
//! the database holds no working URL, and ids cannot be guessed into one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use postroom_core::api;
use postroom_core::{ItemKind, Role};
use sha2::Sha256;

use super::{load, plausible_id, usernames, Document};
use crate::clock::rfc3339;
use crate::domain::actor::Actor;
use crate::domain::policy::{self, ItemAction};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, items::LinkRow, Conn};

/// The characters of the MAC in a link.
const MAC_LEN: usize = 32;

fn mac(key: &[u8; 32], id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    let mut out = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    out.truncate(MAC_LEN);
    out
}

/// The public URL of a link.
pub fn url(app: &App, id: &str) -> String {
    app.settings
        .link(&format!("/l/{id}.{}", mac(&app.link_key, id)))
}

fn link_not_found() -> Error {
    Error::NotFound { what: "link" }
}

pub async fn create(app: &App, actor: &Actor, collection_id: &str) -> Result<api::Link> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (item, _) = load(
        &mut tx,
        actor,
        ItemKind::Collection,
        collection_id,
        ItemAction::Read,
        false,
    )
    .await?;
    let row =
        store::items::insert_link(&mut tx, &store::new_id(), &item.id, &actor.user_id, now).await?;
    let link = view(app, &mut tx, &row).await?;
    tx.commit().await?;
    link.ok_or_else(link_not_found)
}

/// Links I made, and every link to the collections of the teams I administer.
pub async fn list(app: &App, actor: &Actor) -> Result<api::LinkList> {
    let mut c = app.store.conn().await?;
    let admin_of: Vec<String> = store::teams::of_user(&mut c, &actor.user_id)
        .await?
        .into_iter()
        .filter(|t| t.support_only == 0 && Role::parse(&t.role) == Some(Role::Admin))
        .map(|t| t.team.id)
        .collect();
    let rows = store::items::links_for(&mut c, &actor.user_id, &admin_of).await?;
    let mut links = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(link) = view(app, &mut c, row).await? {
            links.push(link);
        }
    }
    Ok(api::LinkList { links })
}

/// Revokes a link: its maker may, and an admin of the collection's team.
pub async fn revoke(app: &App, actor: &Actor, link_id: &str) -> Result<()> {
    if !plausible_id(link_id) {
        return Err(link_not_found());
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let row = store::items::link(&mut tx, link_id)
        .await?
        .ok_or_else(link_not_found)?;
    if row.created_by != actor.user_id && !admin_of_item_team(&mut tx, actor, &row).await? {
        return Err(link_not_found());
    }
    store::items::revoke_link(&mut tx, &row.id, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn admin_of_item_team(c: &mut Conn, actor: &Actor, link: &LinkRow) -> Result<bool> {
    let Some(item) = store::items::by_id(c, &link.item_id).await? else {
        return Ok(false);
    };
    let standing = policy::item_standing(c, &actor.user_id, &item).await?;
    Ok(matches!(
        standing,
        policy::ItemStanding::Seat { admin: true, .. }
    ))
}

/// The collection behind a link's token (`<id>.<mac>`), when the link is
/// live and its maker may still read the collection; else "not found".
pub async fn resolve(app: &App, token: &str) -> Result<Document> {
    let (id, given) = token.split_once('.').ok_or_else(link_not_found)?;
    if !plausible_id(id) || given.len() != MAC_LEN {
        return Err(link_not_found());
    }
    let expected = mac(&app.link_key, id);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(link_not_found());
    }
    let mut c = app.store.conn().await?;
    let row = store::items::link(&mut c, id)
        .await?
        .ok_or_else(link_not_found)?;
    let maker = Actor {
        user_id: row.created_by.clone(),
        session_id: None,
        can_write: false,
    };
    let (item, _) = load(
        &mut c,
        &maker,
        ItemKind::Collection,
        &row.item_id,
        ItemAction::Read,
        false,
    )
    .await
    .map_err(|e| match e {
        Error::NotFound { .. } => link_not_found(),
        other => other,
    })?;
    let json = super::document_text(app, &mut c, &item.id, item.revision).await?;
    Ok(Document { item, json })
}

/// A link as its maker and the team's admins see it; `None` when its
/// collection is gone.
async fn view(app: &App, c: &mut Conn, row: &LinkRow) -> Result<Option<api::Link>> {
    let Some(item) = store::items::by_id(c, &row.item_id).await? else {
        return Ok(None);
    };
    if item.deleted_at.is_some() {
        return Ok(None);
    }
    let people = usernames(c, std::iter::once(row.created_by.as_str())).await?;
    let team = match &item.owner_team_id {
        None => None,
        Some(team_id) => store::teams::by_id(c, team_id)
            .await?
            .map(|t| api::TeamRef {
                slug: t.slug,
                name: t.name,
            }),
    };
    Ok(Some(api::Link {
        id: row.id.clone(),
        url: url(app, &row.id),
        collection: api::ItemRef {
            id: item.id.clone(),
            name: item.name.clone(),
            revision: item.revision,
        },
        created_by: Some(api::ItemUser {
            id: row.created_by.clone(),
            username: people.get(&row.created_by).cloned(),
        }),
        created_at: rfc3339(row.created_at),
        team,
    }))
}
