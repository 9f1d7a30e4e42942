//! The workspace (S1-S3, S8, S9): collections, environments, globals,
//! history entries and header presets, each a person's (private) or a
//! team's (shared).
//!
//! Every item has a revision; every write makes the next one and keeps the
//! old (the history a person can restore from, and the bases the merge of
//! concurrent writes needs). A write names the revision it started from
//! (`If-Match`) or overwrites the current one on purpose. Deleting marks the
//! item deleted; it can be restored for [`RESTORE_DAYS`] days, then the
//! janitor purges it. Each write records an [`ItemEvent`] in the owner's
//! items scope (`items:user:<id>`, `items:team:<id>`) in the same
//! transaction: the change log and the activity feed read that stream.
//!
//! Who may do what is [`policy::decide_item`]'s: a private item is its
//! owner's alone; a team's items are read and written by members holding a
//! seat; support-only members and outsiders get "not found".
//!
//! The modules: `documents` (what each kind's document must be),
//! `secrets` (environments and globals sealed at rest), `links` (public
//! read-only links), `feed` (subscriptions and the activity feed),
//! `imports` (files and Postman data export zips).

pub mod changes;
pub mod conflicts;
pub mod documents;
pub mod feed;
pub mod imports;
pub mod links;
pub mod secrets;

use std::collections::HashMap;
use std::sync::Arc;

use postroom_core::api::{self, ItemListQuery};
use postroom_core::{ItemEvent, ItemKind};
use serde_json::Value;

use self::documents::{noun, Prepared};
use super::actor::Actor;
use super::policy::{self, ItemAction, ItemStanding};
use crate::clock::{rfc3339, Millis, DAY};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{
    self,
    items::{ItemRow, NewItem, OwnerId},
    Conn, Tx,
};

/// How long a deleted item can be restored.
pub const RESTORE_DAYS: i64 = 30;
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// The events scope of a person's private items.
pub fn user_scope(user_id: &str) -> String {
    format!("items:user:{user_id}")
}

/// The events scope of a team's items (apart from its audit log).
pub fn team_scope(team_id: &str) -> String {
    format!("items:team:{team_id}")
}

/// The events scope of an item's owner.
pub fn scope_of(item: &ItemRow) -> String {
    match (&item.owner_user_id, &item.owner_team_id) {
        (Some(user), _) => user_scope(user),
        (None, Some(team)) => team_scope(team),
        (None, None) => "items:none".into(),
    }
}

fn owner_of(item: &ItemRow) -> OwnerId<'_> {
    match (&item.owner_user_id, &item.owner_team_id) {
        (Some(user), _) => OwnerId::User(user),
        (None, Some(team)) => OwnerId::Team(team),
        (None, None) => OwnerId::User(""),
    }
}

fn sealed(kind: ItemKind) -> bool {
    matches!(kind, ItemKind::Environment | ItemKind::Globals)
}

fn not_found(kind: ItemKind) -> Error {
    Error::NotFound { what: noun(kind) }
}

/// Only what could be an id reaches the database.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Records an item event in the caller's transaction.
async fn record(
    tx: &mut Tx,
    item: &ItemRow,
    actor: &Actor,
    event: ItemEvent,
    now: Millis,
) -> Result<()> {
    store::events::record_about(
        tx,
        &scope_of(item),
        Some(&actor.user_id),
        &item.id,
        &event,
        now,
    )
    .await?;
    Ok(())
}

fn item_ref(item: &ItemRow) -> api::ItemRef {
    api::ItemRef {
        id: item.id.clone(),
        name: item.name.clone(),
        revision: item.revision,
    }
}

/// Stores a prepared document for `owner`, sealing it when its kind is.
async fn body_for(
    app: &App,
    tx: &mut Tx,
    kind: ItemKind,
    owner: &OwnerId<'_>,
    json: String,
    now: Millis,
) -> Result<(String, Option<String>)> {
    if sealed(kind) {
        let (body, key) = secrets::seal(tx, &app.kek, owner, &json, now).await?;
        Ok((body, Some(key)))
    } else {
        Ok((json, None))
    }
}

/// The owner a new item goes to: the team `slug` (the actor must hold a
/// seat there) or the actor.
async fn target_owner(c: &mut Conn, actor: &Actor, team: Option<&str>) -> Result<Option<String>> {
    match team {
        None => Ok(None),
        Some(slug) => Ok(Some(policy::authorize_team_items(c, actor, slug).await?.id)),
    }
}

/// Creates an item in the actor's transaction (imports create several in
/// one); the caller commits.
pub(crate) async fn create_in(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    doc: Value,
    team_id: Option<&str>,
    via: Option<&str>,
) -> Result<ItemRow> {
    let now = app.clock.now();
    let id = store::new_id();
    let Prepared { name, json } = documents::prepare(kind, doc, &id)?;
    let owner = match team_id {
        Some(team) => OwnerId::Team(team),
        None => OwnerId::User(&actor.user_id),
    };
    let (body, key_id) = body_for(app, tx, kind, &owner, json, now).await?;
    let row = store::items::insert(
        tx,
        &NewItem {
            id: &id,
            kind: kind.as_str(),
            owner: owner.clone(),
            name: &name,
            body: &body,
            key_id: key_id.as_deref(),
            by: &actor.user_id,
        },
        now,
    )
    .await?;
    if kind == ItemKind::Collection {
        store::items::subscribe(tx, &actor.user_id, &id, now).await?;
    }
    record(
        tx,
        &row,
        actor,
        ItemEvent::Created {
            item: kind,
            name: row.name.clone(),
            revision: row.revision,
            via: via.map(str::to_owned),
        },
        now,
    )
    .await?;
    Ok(row)
}

/// Creates an item: private, or in the team `team` (a slug).
pub async fn create(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    doc: Value,
    team: Option<&str>,
) -> Result<api::ItemRef> {
    let mut tx = app.store.begin().await?;
    let team_id = target_owner(&mut tx, actor, team).await?;
    let row = create_in(app, &mut tx, actor, kind, doc, team_id.as_deref(), None).await?;
    tx.commit().await?;
    Ok(item_ref(&row))
}

/// The item, when the actor may do `action` to it; deleted ones only when
/// `deleted` is true.
async fn load(
    c: &mut Conn,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    action: ItemAction,
    deleted: bool,
) -> Result<(ItemRow, ItemStanding)> {
    if !plausible_id(id) {
        return Err(not_found(kind));
    }
    let item = store::items::by_id(c, id)
        .await?
        .filter(|i| i.kind == kind.as_str() && i.deleted_at.is_some() == deleted)
        .ok_or_else(|| not_found(kind))?;
    let standing = policy::authorize_item(c, &actor.user_id, &item, action, noun(kind)).await?;
    Ok((item, standing))
}

/// [`load`] under the item's row lock, in a write transaction.
async fn load_locked(
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    action: ItemAction,
    deleted: bool,
) -> Result<ItemRow> {
    if !plausible_id(id) {
        return Err(not_found(kind));
    }
    let item = store::items::lock(tx, id)
        .await?
        .filter(|i| i.kind == kind.as_str() && i.deleted_at.is_some() == deleted)
        .ok_or_else(|| not_found(kind))?;
    policy::authorize_item(tx, &actor.user_id, &item, action, noun(kind)).await?;
    Ok(item)
}

/// A document as JSON text, opened when it was sealed.
async fn document_text(app: &App, c: &mut Conn, item_id: &str, revision: i64) -> Result<Arc<str>> {
    if let Some(text) = app.documents.get(item_id, revision) {
        return Ok(text);
    }
    let row = store::items::body(c, item_id, revision)
        .await?
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "revision {revision} of {item_id} is missing"
            ))
        })?;
    match &row.key_id {
        Some(key) => Ok(secrets::open(c, &app.kek, key, &row.body).await?.into()),
        None => {
            let text: Arc<str> = row.body.into();
            app.documents.put(item_id, revision, &text);
            Ok(text)
        }
    }
}

/// An item's current document.
pub struct Document {
    pub item: ItemRow,
    /// The document, as JSON text.
    pub json: Arc<str>,
}

/// The documents read lately, by item and revision, so that reading the
/// same collection again serves it from memory. A revision never changes
/// once written, so an entry is never stale: a new write is a new key.
/// Sealed documents (environments, globals) are not kept: their clear text
/// stays out of memory between requests. Bounded by bytes; the oldest go
/// first.
pub struct DocumentCache {
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    by_key: std::collections::HashMap<(String, i64), Arc<str>>,
    order: std::collections::VecDeque<(String, i64)>,
    bytes: usize,
}

impl DocumentCache {
    /// All the documents kept at once.
    pub const MAX_BYTES: usize = 32 << 20;
    /// A document larger than this is not kept.
    pub const MAX_ONE: usize = 4 << 20;

    pub fn new() -> DocumentCache {
        DocumentCache {
            inner: std::sync::Mutex::new(CacheInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, item_id: &str, revision: i64) -> Option<Arc<str>> {
        self.lock()
            .by_key
            .get(&(item_id.to_owned(), revision))
            .cloned()
    }

    pub fn put(&self, item_id: &str, revision: i64, text: &Arc<str>) {
        if text.len() > Self::MAX_ONE {
            return;
        }
        let mut inner = self.lock();
        let key = (item_id.to_owned(), revision);
        if inner.by_key.contains_key(&key) {
            return;
        }
        inner.bytes += text.len();
        inner.by_key.insert(key.clone(), text.clone());
        inner.order.push_back(key);
        while inner.bytes > Self::MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.by_key.remove(&oldest) {
                inner.bytes -= gone.len();
            }
        }
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        DocumentCache::new()
    }
}

pub async fn read(app: &App, actor: &Actor, kind: ItemKind, id: &str) -> Result<Document> {
    let mut c = app.store.conn().await?;
    let (item, _) = load(&mut c, actor, kind, id, ItemAction::Read, false).await?;
    let json = document_text(app, &mut c, &item.id, item.revision).await?;
    Ok(Document { item, json })
}

/// What a write was based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// Overwrite whatever is current (a `PUT` without `If-Match`).
    Current,
    /// The revision the writer started from.
    Revision(i64),
}

/// What a write came to.
pub struct Saved {
    pub item: api::ItemRef,
    /// Whether it met changes made since its base and was merged with them.
    pub merged: bool,
}

/// Writes a new revision of an item. A write based on an older revision
/// is merged with what changed since; when it cannot be, it is kept as a
/// conflict and answered with 409 `conflict` (see `conflicts`).
pub async fn put(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    doc: Value,
    base: Base,
) -> Result<Saved> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(&mut tx, actor, kind, id, ItemAction::Write, false).await?;
    let mine = documents::prepare(kind, doc, &item.id)?;
    let outcome =
        conflicts::write_onto(app, &mut tx, actor, kind, &item, mine, base, None, now).await?;
    finish(tx, outcome).await
}

/// Commits a write's outcome: the saved item, or the conflict kept (which
/// is committed too, then answered as 409).
async fn finish(tx: Tx, outcome: conflicts::Outcome) -> Result<Saved> {
    tx.commit().await?;
    match outcome {
        conflicts::Outcome::Written { item, merged } => Ok(Saved {
            item: item_ref(&item),
            merged,
        }),
        conflicts::Outcome::Conflict(view) => Err(conflicts::conflict_error(view)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_revision(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    item: &ItemRow,
    name: String,
    json: String,
    restored_from: Option<i64>,
    now: Millis,
) -> Result<ItemRow> {
    let kind = ItemKind::parse(&item.kind).unwrap_or(ItemKind::Collection);
    let (body, key_id) = body_for(app, tx, kind, &owner_of(item), json, now).await?;
    let row = store::items::update(
        tx,
        item,
        &name,
        &body,
        key_id.as_deref(),
        &actor.user_id,
        now,
    )
    .await?;
    record(
        tx,
        &row,
        actor,
        ItemEvent::Updated {
            item: kind,
            name: row.name.clone(),
            revision: row.revision,
            restored_from,
        },
        now,
    )
    .await?;
    Ok(row)
}

/// Deletes an item; it can be restored for [`RESTORE_DAYS`] days. A
/// delete based on an older revision than the current one is a conflict.
pub async fn delete(app: &App, actor: &Actor, kind: ItemKind, id: &str, base: Base) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(&mut tx, actor, kind, id, ItemAction::Remove, false).await?;
    let conflict = conflicts::delete_onto(app, &mut tx, actor, kind, &item, base, now).await?;
    tx.commit().await?;
    match conflict {
        None => Ok(()),
        Some(view) => Err(conflicts::conflict_error(view)),
    }
}

/// Brings a deleted item back.
pub async fn undelete(app: &App, actor: &Actor, kind: ItemKind, id: &str) -> Result<api::ItemRef> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(&mut tx, actor, kind, id, ItemAction::Remove, true).await?;
    let row = store::items::set_deleted(&mut tx, &item.id, None, None).await?;
    let event = ItemEvent::Undeleted {
        item: kind,
        name: row.name.clone(),
        revision: row.revision,
    };
    record(&mut tx, &row, actor, event, now).await?;
    tx.commit().await?;
    Ok(item_ref(&row))
}

/// The revisions of an item, newest first.
pub async fn revisions(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    before: Option<i64>,
    limit: Option<u32>,
) -> Result<api::RevisionList> {
    let mut c = app.store.conn().await?;
    let (item, _) = load(&mut c, actor, kind, id, ItemAction::Read, false).await?;
    let limit = i64::from(limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE));
    let rows = store::items::revisions(&mut c, &item.id, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let people = usernames(&mut c, rows.iter().filter_map(|r| r.created_by.as_deref())).await?;
    let revisions = rows
        .iter()
        .map(|r| api::Revision {
            revision: r.revision,
            created_at: rfc3339(r.created_at),
            created_by: person(&people, r.created_by.as_deref()),
            size: r.size.max(0) as u64,
            current: r.revision == item.revision,
        })
        .collect::<Vec<_>>();
    let next = if more {
        revisions.last().map(|r| r.revision.to_string())
    } else {
        None
    };
    Ok(api::RevisionList { revisions, next })
}

/// One revision's document.
pub async fn revision(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    revision: i64,
) -> Result<Document> {
    let mut c = app.store.conn().await?;
    let (item, _) = load(&mut c, actor, kind, id, ItemAction::Read, false).await?;
    if revision < 1 || revision > item.revision {
        return Err(Error::NotFound { what: "revision" });
    }
    let json = document_text(app, &mut c, &item.id, revision).await?;
    Ok(Document { item, json })
}

/// Makes an old revision's document the current one, as a new revision.
pub async fn restore_revision(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    revision: i64,
) -> Result<api::ItemRef> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(&mut tx, actor, kind, id, ItemAction::Write, false).await?;
    if revision < 1 || revision > item.revision {
        return Err(Error::NotFound { what: "revision" });
    }
    let json = document_text(app, &mut tx, &item.id, revision).await?;
    let doc: Value = serde_json::from_str(&json).map_err(|e| Error::Internal(e.into()))?;
    let Prepared { name, json } = documents::prepare(kind, doc, &item.id)?;
    let row = write_revision(app, &mut tx, actor, &item, name, json, Some(revision), now).await?;
    tx.commit().await?;
    Ok(item_ref(&row))
}

/// Moves an item into the team `team` (sharing it) or back to the actor's
/// private items (`None`). Taking an item out of a team is for whoever
/// created it and for the team's admins.
pub async fn move_to(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    id: &str,
    team: Option<&str>,
) -> Result<api::ItemSummary> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(&mut tx, actor, kind, id, ItemAction::Remove, false).await?;
    let target_team = target_owner(&mut tx, actor, team).await?;
    let target = match &target_team {
        Some(team) => OwnerId::Team(team),
        None => OwnerId::User(&actor.user_id),
    };
    if owner_of(&item) == target {
        tx.rollback().await?;
        return summary(app, actor, &item).await;
    }
    let (from, to) = (
        owner_label(&mut tx, &item.owner_team_id).await?,
        owner_label(&mut tx, &target_team).await?,
    );
    record(
        &mut tx,
        &item,
        actor,
        ItemEvent::MovedOut {
            item: kind,
            name: item.name.clone(),
            revision: item.revision,
            to,
        },
        now,
    )
    .await?;
    let mut row = store::items::set_owner(&mut tx, &item.id, &target, &actor.user_id, now).await?;
    if sealed(kind) {
        // Sealed under the old owner's key: a new revision under the new one's.
        let json = document_text(app, &mut tx, &item.id, item.revision).await?;
        let (body, key_id) = body_for(app, &mut tx, kind, &target, json.to_string(), now).await?;
        row = store::items::update(
            &mut tx,
            &row,
            &row.name.clone(),
            &body,
            key_id.as_deref(),
            &actor.user_id,
            now,
        )
        .await?;
    }
    record(
        &mut tx,
        &row,
        actor,
        ItemEvent::MovedIn {
            item: kind,
            name: row.name.clone(),
            revision: row.revision,
            from,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    summary(app, actor, &row).await
}

/// `private`, or the team's slug.
async fn owner_label(c: &mut Conn, team_id: &Option<String>) -> Result<String> {
    Ok(match team_id {
        None => "private".into(),
        Some(id) => store::teams::by_id(c, id)
            .await?
            .map_or_else(|| id.clone(), |t| t.slug),
    })
}

/// Whether the actor may do `action` to the item, as the policy decides
/// it when they try: pages offer only what will be allowed.
pub async fn may(app: &App, actor: &Actor, item: &ItemRow, action: ItemAction) -> Result<bool> {
    let mut c = app.store.conn().await?;
    let standing = policy::item_standing(&mut c, &actor.user_id, item).await?;
    Ok(policy::decide_item(standing, action, noun_of(item)).is_ok())
}

fn noun_of(item: &ItemRow) -> &'static str {
    noun(ItemKind::parse(&item.kind).unwrap_or(ItemKind::Collection))
}

/// One item's summary, as lists show it.
pub async fn summary(app: &App, actor: &Actor, item: &ItemRow) -> Result<api::ItemSummary> {
    let mut c = app.store.conn().await?;
    let mut views = Views::load(&mut c, actor, std::slice::from_ref(item)).await?;
    Ok(views.summary(item))
}

/// Whose items a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// My private items and those of my teams where I hold a seat.
    All,
    /// My private items only.
    Private,
    /// The items of my teams where I hold a seat, none of my private ones.
    Teams,
    /// The items of the team with this slug.
    Team(&'a str),
}

/// A page of items of `kind`: my private ones and those of my teams where I
/// hold a seat, or only one of them (`team`, `private`).
pub async fn list(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    q: &ItemListQuery,
) -> Result<(Vec<api::ItemSummary>, Option<String>)> {
    let scope = match &q.team {
        Some(slug) => Scope::Team(slug),
        None if q.private => Scope::Private,
        None => Scope::All,
    };
    list_in(app, actor, kind, scope, q).await
}

/// A page of items of `kind` in `scope` (`q.team` and `q.private` aside).
pub async fn list_in(
    app: &App,
    actor: &Actor,
    kind: ItemKind,
    scope: Scope<'_>,
    q: &ItemListQuery,
) -> Result<(Vec<api::ItemSummary>, Option<String>)> {
    let mut c = app.store.conn().await?;
    let team_ids: Vec<String> = match scope {
        Scope::Team(slug) => vec![policy::authorize_team_items(&mut c, actor, slug).await?.id],
        Scope::Private => Vec::new(),
        Scope::All | Scope::Teams => store::teams::of_user(&mut c, &actor.user_id)
            .await?
            .into_iter()
            .filter(|t| t.support_only == 0)
            .map(|t| t.team.id)
            .collect(),
    };
    let after = match &q.cursor {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor)?),
    };
    let limit = i64::from(q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE));
    let rows = store::items::list(
        &mut c,
        &store::items::ListFilter {
            kind: kind.as_str(),
            user_id: &actor.user_id,
            private: matches!(scope, Scope::All | Scope::Private),
            team_ids: &team_ids,
            deleted: q.deleted,
            after: after.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = if more {
        rows.last().map(|r| format!("{}.{}", r.updated_at, r.id))
    } else {
        None
    };
    let mut views = Views::load(&mut c, actor, rows).await?;
    Ok((rows.iter().map(|r| views.summary(r)).collect(), next))
}

/// A page cursor `<millis>.<id>`, as a list or the feed gave it.
fn parse_cursor(cursor: &str) -> Result<(i64, String)> {
    let bad = || Error::bad_request("invalid_cursor", "the cursor is not one this list gave");
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    if !plausible_id(id) {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

/// Follows or stops following a collection in the feed.
pub async fn set_subscribed(app: &App, actor: &Actor, id: &str, on: bool) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let item = load_locked(
        &mut tx,
        actor,
        ItemKind::Collection,
        id,
        ItemAction::Read,
        false,
    )
    .await?;
    if on {
        store::items::subscribe(&mut tx, &actor.user_id, &item.id, now).await?;
    } else {
        store::items::unsubscribe(&mut tx, &actor.user_id, &item.id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The globals of the actor or of one of their teams: the document and
/// its item, when written once.
pub async fn globals(app: &App, actor: &Actor, team: Option<&str>) -> Result<Option<Document>> {
    let mut c = app.store.conn().await?;
    let team_id = target_owner(&mut c, actor, team).await?;
    let owner = match &team_id {
        Some(t) => OwnerId::Team(t),
        None => OwnerId::User(&actor.user_id),
    };
    let Some(item) = store::items::singleton(&mut c, ItemKind::Globals.as_str(), &owner).await?
    else {
        return Ok(None);
    };
    let json = document_text(app, &mut c, &item.id, item.revision).await?;
    Ok(Some(Document { item, json }))
}

/// Writes the globals of the actor or of one of their teams.
pub async fn put_globals(
    app: &App,
    actor: &Actor,
    team: Option<&str>,
    doc: Value,
    base: Base,
) -> Result<Saved> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let team_id = target_owner(&mut tx, actor, team).await?;
    let owner = match &team_id {
        Some(t) => OwnerId::Team(t),
        None => OwnerId::User(&actor.user_id),
    };
    let existing = store::items::singleton(&mut tx, ItemKind::Globals.as_str(), &owner).await?;
    let item = match existing {
        None => {
            if let Base::Revision(rev) = base {
                return Err(Error::conflict(
                    "stale_revision",
                    None,
                    format!(
                        "these globals have no revision {rev} yet: write them without If-Match"
                    ),
                ));
            }
            let row = create_in(
                app,
                &mut tx,
                actor,
                ItemKind::Globals,
                doc,
                team_id.as_deref(),
                None,
            )
            .await?;
            tx.commit().await?;
            return Ok(Saved {
                item: item_ref(&row),
                merged: false,
            });
        }
        Some(item) => store::items::lock(&mut tx, &item.id)
            .await?
            .ok_or_else(|| not_found(ItemKind::Globals))?,
    };
    let kind = ItemKind::Globals;
    let mine = documents::prepare(kind, doc, &item.id)?;
    let outcome =
        conflicts::write_onto(app, &mut tx, actor, kind, &item, mine, base, None, now).await?;
    finish(tx, outcome).await
}

/// The actor's private items as documents, for the account export (P9).
pub async fn export_private(app: &App, actor: &Actor) -> Result<api::WorkspaceExport> {
    let mut export = api::WorkspaceExport::default();
    for kind in ItemKind::ALL {
        let mut cursor = None;
        loop {
            let q = ItemListQuery {
                private: true,
                cursor: cursor.clone(),
                limit: Some(MAX_PAGE),
                ..Default::default()
            };
            let (items, next) = list(app, actor, kind, &q).await?;
            for item in items {
                let doc = read(app, actor, kind, &item.id).await?;
                let value: Value =
                    serde_json::from_str(&doc.json).map_err(|e| Error::Internal(e.into()))?;
                match kind {
                    ItemKind::Collection => export.collections.push(value),
                    ItemKind::Environment => export.environments.push(value),
                    ItemKind::Globals => export.globals = Some(value),
                    ItemKind::History => export.history.push(value),
                    ItemKind::HeaderPreset => export.header_presets.push(value),
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(export)
}

/// Usernames by id, for the people an item's history names.
async fn usernames<'a>(
    c: &mut Conn,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for id in ids {
        if let Some(user) = store::users::by_id(c, id).await? {
            out.insert(user.id, user.username);
        }
    }
    Ok(out)
}

fn person(people: &HashMap<String, String>, id: Option<&str>) -> Option<api::ItemUser> {
    id.map(|id| api::ItemUser {
        id: id.to_owned(),
        username: people.get(id).cloned(),
    })
}

/// What turning item rows into summaries needs, read once per list.
struct Views {
    people: HashMap<String, String>,
    teams: HashMap<String, api::TeamRef>,
    subscribed: Vec<String>,
}

impl Views {
    async fn load(c: &mut Conn, actor: &Actor, rows: &[ItemRow]) -> Result<Views> {
        let mut ids: Vec<&str> = Vec::new();
        for r in rows {
            ids.extend(
                [&r.created_by, &r.updated_by, &r.owner_user_id]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
        }
        let people = usernames(c, ids.into_iter()).await?;
        let mut teams = HashMap::new();
        for team_id in rows.iter().filter_map(|r| r.owner_team_id.as_deref()) {
            if !teams.contains_key(team_id) {
                if let Some(t) = store::teams::by_id(c, team_id).await? {
                    teams.insert(
                        t.id.clone(),
                        api::TeamRef {
                            slug: t.slug,
                            name: t.name,
                        },
                    );
                }
            }
        }
        let ids: Vec<&str> = rows
            .iter()
            .filter(|r| r.kind == ItemKind::Collection.as_str())
            .map(|r| r.id.as_str())
            .collect();
        let subscribed = store::items::subscribed_among(c, &actor.user_id, &ids).await?;
        Ok(Views {
            people,
            teams,
            subscribed,
        })
    }

    fn summary(&mut self, r: &ItemRow) -> api::ItemSummary {
        let owner = match (&r.owner_user_id, &r.owner_team_id) {
            (None, Some(team)) => api::Owner::Team {
                team: self.teams.get(team).cloned().unwrap_or(api::TeamRef {
                    slug: String::new(),
                    name: String::new(),
                }),
            },
            (user, _) => api::Owner::Private {
                user: api::ItemUser {
                    id: user.clone().unwrap_or_default(),
                    username: user.as_ref().and_then(|u| self.people.get(u).cloned()),
                },
            },
        };
        api::ItemSummary {
            id: r.id.clone(),
            kind: ItemKind::parse(&r.kind).unwrap_or(ItemKind::Collection),
            name: r.name.clone(),
            owner,
            revision: r.revision,
            size: r.size.max(0) as u64,
            created_at: rfc3339(r.created_at),
            created_by: person(&self.people, r.created_by.as_deref()),
            updated_at: rfc3339(r.updated_at),
            updated_by: person(&self.people, r.updated_by.as_deref()),
            subscribed: self.subscribed.iter().any(|s| s == &r.id),
            deleted_at: r.deleted_at.map(rfc3339),
            purge_at: r.deleted_at.map(|at| rfc3339(at + RESTORE_DAYS * DAY)),
        }
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn documents_are_kept_by_revision_within_the_bound() {
        let cache = DocumentCache::new();
        let doc: Arc<str> = "x".repeat(1 << 20).into();
        cache.put("a", 1, &doc);
        assert!(cache.get("a", 1).is_some());
        assert!(
            cache.get("a", 2).is_none(),
            "another revision is another document"
        );
        for n in 0..40 {
            cache.put(&format!("b{n}"), 1, &doc);
        }
        assert!(cache.get("a", 1).is_none(), "the oldest went first");
        assert!(cache.get("b39", 1).is_some());
        let kept = cache.lock().bytes;
        assert!(kept <= DocumentCache::MAX_BYTES, "{kept}");
        let big: Arc<str> = "y".repeat(DocumentCache::MAX_ONE + 1).into();
        cache.put("big", 1, &big);
        assert!(cache.get("big", 1).is_none());
    }
}
