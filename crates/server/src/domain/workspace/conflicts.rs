//! Writes that could not be merged (S7). A write based on an old revision
//! is merged three-way (base, theirs = the current revision, mine = the
//! write) by `postroom_core::merge`; when the same field changed both ways,
//! or an edit meets a delete, nothing of the write is applied: it is kept
//! here whole, the writer gets 409 `conflict` with it, and any of their
//! devices resolves it later:
//! - `mine`: the write wins where it conflicts, merged again onto the
//!   revision current at that moment, so edits made since are kept;
//! - `theirs`: the current revision stays, the write is dropped;
//! - `merged`: a document the person edited is written, based on the
//!   revision the conflict showed them (merged again if it moved on since).
//!
//! A base the server no longer has (a revision number it never had) is a
//! conflict too, with no fields: the person chooses between the whole
//! documents. A delete based on an old revision is a conflict when the item
//! changed since; "mine" deletes it.

use postroom_core::api::{self, ConflictField, ConflictView, Keep};
use postroom_core::merge::{self, Merge};
use postroom_core::ItemKind;
use serde_json::Value;

use super::documents::{self, noun, Prepared};
use super::{
    body_for, document_text, item_ref, load_locked, owner_of, record, write_revision, Base,
};
use crate::clock::{rfc3339, Millis};
use crate::domain::actor::Actor;
use crate::domain::policy::{self, ItemAction};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, items::ItemRow, sync::ConflictRow, Conn, Tx};
use postroom_core::ItemEvent;

/// What a write with a base came to.
pub enum Outcome {
    /// Written as the next revision; `merged` when it met other changes.
    Written { item: ItemRow, merged: bool },
    /// Kept as a conflict (the caller commits, then answers 409).
    Conflict(ConflictView),
}

/// Which side wins where both changed the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Mine,
}

fn fields(conflicts: Vec<ConflictField>) -> Vec<ConflictField> {
    conflicts
}

/// The merge with `prefer`'s version at every conflict: the merge of the
/// sides swapped keeps its "theirs" (here mine) where they conflict.
fn merge_preferring(base: &Value, theirs: &Value, mine: &Value, prefer: Side) -> Value {
    match prefer {
        Side::Mine => match merge::merge(base, mine, theirs) {
            Merge::Clean(doc) => doc,
            Merge::Conflicted { merged, .. } => merged,
        },
    }
}

fn parse(json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|e| Error::Internal(e.into()))
}

/// The document of a revision the item still has, parsed.
async fn revision_doc(
    app: &App,
    c: &mut Conn,
    item: &ItemRow,
    revision: i64,
) -> Result<Option<Value>> {
    if revision < 1 || revision > item.revision {
        return Ok(None);
    }
    let json = document_text(app, c, &item.id, revision).await?;
    Ok(Some(parse(&json)?))
}

/// Writes `mine` onto `item` from `base`: as it is when `base` is current,
/// merged when the item moved on, kept as a conflict when the merge cannot
/// be made. `prefer` settles the conflicting fields instead (a resolution).
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_onto(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    item: &ItemRow,
    mine: Prepared,
    base: Base,
    prefer: Option<Side>,
    now: Millis,
) -> Result<Outcome> {
    let rev = match base {
        Base::Revision(rev) if rev != item.revision => rev,
        _ => return written(app, tx, actor, item, mine, false, now).await,
    };
    let merged = match revision_doc(app, tx, item, rev).await? {
        // A base the server never had: mine whole when it is to win,
        // else a conflict between the whole documents.
        None if prefer == Some(Side::Mine) => {
            return written(app, tx, actor, item, mine, false, now).await
        }
        None => Merge::Conflicted {
            conflicts: Vec::new(),
            merged: Value::Null,
        },
        Some(base_doc) => {
            let mine_doc = parse(&mine.json)?;
            let theirs_doc = revision_doc(app, tx, item, item.revision)
                .await?
                .ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!("the current revision is missing"))
                })?;
            match prefer {
                Some(side) => {
                    Merge::Clean(merge_preferring(&base_doc, &theirs_doc, &mine_doc, side))
                }
                None => merge::merge(&base_doc, &theirs_doc, &mine_doc),
            }
        }
    };
    match merged {
        Merge::Clean(doc) => {
            let doc = documents::prepare(kind, doc, &item.id)?;
            written(app, tx, actor, item, doc, true, now).await
        }
        Merge::Conflicted { conflicts, .. } => {
            let fields = fields(conflicts);
            let view = keep(
                app,
                tx,
                actor,
                kind,
                item,
                rev,
                "put",
                Some(&mine.json),
                fields,
                now,
            )
            .await?;
            Ok(Outcome::Conflict(view))
        }
    }
}

/// Writes `doc` as the item's next revision.
async fn written(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    item: &ItemRow,
    doc: Prepared,
    merged: bool,
    now: Millis,
) -> Result<Outcome> {
    let Prepared { name, json } = doc;
    let row = write_revision(app, tx, actor, item, name, json, None, now).await?;
    Ok(Outcome::Written { item: row, merged })
}

/// Deletes `item` when `base` is current; keeps a conflict when it changed
/// since.
pub(super) async fn delete_onto(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    item: &ItemRow,
    base: Base,
    now: Millis,
) -> Result<Option<ConflictView>> {
    if let Base::Revision(rev) = base {
        if rev != item.revision {
            let fields = match revision_doc(app, tx, item, rev).await? {
                Some(base_doc) => {
                    let theirs = revision_doc(app, tx, item, item.revision)
                        .await?
                        .unwrap_or(Value::Null);
                    // What changed since the base, each field a conflict
                    // with the delete (mine: absent).
                    match merge::merge(&base_doc, &theirs, &Value::Null) {
                        Merge::Conflicted { conflicts, .. } => fields(conflicts),
                        Merge::Clean(_) => Vec::new(),
                    }
                }
                None => Vec::new(),
            };
            let view = keep(app, tx, actor, kind, item, rev, "delete", None, fields, now).await?;
            return Ok(Some(view));
        }
    }
    mark_deleted(tx, actor, kind, item, now).await?;
    Ok(None)
}

async fn mark_deleted(
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    item: &ItemRow,
    now: Millis,
) -> Result<()> {
    let row = store::items::set_deleted(tx, &item.id, Some(now), Some(&actor.user_id)).await?;
    let event = ItemEvent::Deleted {
        item: kind,
        name: row.name.clone(),
        revision: row.revision,
    };
    record(tx, &row, actor, event, now).await
}

/// Stores a conflict and returns its view.
#[allow(clippy::too_many_arguments)]
async fn keep(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    item: &ItemRow,
    base_revision: i64,
    op: &str,
    mine: Option<&str>,
    fields: Vec<ConflictField>,
    now: Millis,
) -> Result<ConflictView> {
    let (body, key_id) = match mine {
        Some(json) => {
            let (body, key) =
                body_for(app, tx, kind, &owner_of(item), json.to_owned(), now).await?;
            (Some(body), key)
        }
        None => (None, None),
    };
    let row = ConflictRow {
        id: store::new_id(),
        item_id: item.id.clone(),
        user_id: actor.user_id.clone(),
        base_revision,
        theirs_revision: item.revision,
        op: op.to_owned(),
        body,
        key_id,
        details: serde_json::to_string(&fields).map_err(|e| Error::Internal(e.into()))?,
        created_at: now,
        resolved_at: None,
        resolution: None,
    };
    store::sync::insert_conflict(tx, &row).await?;
    view(tx, &row, item, kind, fields).await
}

async fn view(
    c: &mut Conn,
    row: &ConflictRow,
    item: &ItemRow,
    kind: ItemKind,
    fields: Vec<ConflictField>,
) -> Result<ConflictView> {
    let team = match &item.owner_team_id {
        Some(id) => store::teams::by_id(c, id).await?.map(|t| t.slug),
        None => None,
    };
    Ok(ConflictView {
        id: row.id.clone(),
        kind,
        item: item_ref(item),
        team,
        op: row.op.clone(),
        base_revision: row.base_revision,
        theirs_revision: row.theirs_revision,
        fields,
        created_at: rfc3339(row.created_at),
        resolution: row.resolution.clone(),
    })
}

/// The error a kept conflict answers with.
pub fn conflict_error(view: ConflictView) -> Error {
    let what = noun(view.kind);
    let message = if view.op == "delete" {
        format!(
            "this {what} changed since revision {} (it is at revision {}): it was not deleted; \
             resolve the conflict to delete it anyway or keep it",
            view.base_revision, view.theirs_revision
        )
    } else if view.fields.is_empty() {
        format!(
            "revision {} of this {what} is not one the server has: your write was kept, not \
             applied; resolve the conflict by choosing a version",
            view.base_revision
        )
    } else {
        format!(
            "this {what} changed since revision {} in the same place as your write ({}): your \
             write was kept, not applied; resolve the conflict",
            view.base_revision,
            view.fields
                .iter()
                .map(|f| f.path.as_str())
                .take(5)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Error::MergeConflict {
        message,
        conflict: Box::new(view),
    }
}

/// A conflict of the actor's that they may still act on, with its item.
async fn load(c: &mut Conn, actor: &Actor, id: &str) -> Result<(ConflictRow, ItemRow, ItemKind)> {
    let not_found = || Error::NotFound { what: "conflict" };
    if id.is_empty() || id.len() > 64 {
        return Err(not_found());
    }
    let row = store::sync::conflict(c, id)
        .await?
        .filter(|r| r.user_id == actor.user_id)
        .ok_or_else(not_found)?;
    let item = store::items::by_id(c, &row.item_id)
        .await?
        .ok_or_else(not_found)?;
    let kind = ItemKind::parse(&item.kind).unwrap_or(ItemKind::Collection);
    // Someone who lost access to the item loses its conflicts with it.
    policy::authorize_item(c, &actor.user_id, &item, ItemAction::Read, "conflict").await?;
    Ok((row, item, kind))
}

fn details(row: &ConflictRow) -> Vec<ConflictField> {
    serde_json::from_str(&row.details).unwrap_or_default()
}

/// How many open conflicts a list shows at most.
const OPEN_LIMIT: i64 = 200;

/// A person's open conflicts on items they can still read, newest first,
/// with their items (those on items they can no longer see are left out).
async fn open(c: &mut Conn, user_id: &str) -> Result<Vec<(ConflictRow, ItemRow, ItemKind)>> {
    let rows = store::sync::open_conflicts(c, user_id, OPEN_LIMIT).await?;
    let mut open = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(item) = store::items::by_id(c, &row.item_id).await? else {
            continue;
        };
        let standing = policy::item_standing(c, user_id, &item).await?;
        if policy::decide_item(standing, ItemAction::Read, "conflict").is_err() {
            continue;
        }
        let kind = ItemKind::parse(&item.kind).unwrap_or(ItemKind::Collection);
        open.push((row, item, kind));
    }
    Ok(open)
}

/// The actor's open conflicts, newest first (those on items they can no
/// longer see left out).
pub async fn list(app: &App, actor: &Actor) -> Result<api::ConflictList> {
    let mut c = app.store.conn().await?;
    let mut conflicts = Vec::new();
    for (row, item, kind) in open(&mut c, &actor.user_id).await? {
        let fields = details(&row);
        conflicts.push(view(&mut c, &row, &item, kind, fields).await?);
    }
    Ok(api::ConflictList { conflicts })
}

/// How many conflicts `list` shows the person `user_id` (the count in the
/// dashboard's navigation). One query when there are none.
pub async fn open_count(app: &App, user_id: &str) -> Result<usize> {
    let mut c = app.store.conn().await?;
    Ok(open(&mut c, user_id).await?.len())
}

/// What a conflict is about, without its documents.
pub async fn view_of(app: &App, actor: &Actor, id: &str) -> Result<ConflictView> {
    let mut c = app.store.conn().await?;
    let (row, item, kind) = load(&mut c, actor, id).await?;
    let fields = details(&row);
    view(&mut c, &row, &item, kind, fields).await
}

/// One conflict with both documents.
pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<api::ConflictDetail> {
    Ok(read(app, actor, id, false).await?.0)
}

/// One conflict with both documents, and the document to start a merge by
/// hand from: every change of both sides that merges, the current version
/// at each conflicting field (so only those are left to decide). Without a
/// base to merge from, the current version; for an item deleted since, the
/// write.
pub async fn get_with_draft(
    app: &App,
    actor: &Actor,
    id: &str,
) -> Result<(api::ConflictDetail, Value)> {
    let (detail, draft) = read(app, actor, id, true).await?;
    Ok((detail, draft.unwrap_or(Value::Null)))
}

async fn read(
    app: &App,
    actor: &Actor,
    id: &str,
    with_draft: bool,
) -> Result<(api::ConflictDetail, Option<Value>)> {
    let mut c = app.store.conn().await?;
    let (row, item, kind) = load(&mut c, actor, id).await?;
    let mine = match (&row.body, &row.key_id) {
        (Some(body), Some(key)) => Some(parse(
            &super::secrets::open(&mut c, &app.kek, key, body).await?,
        )?),
        (Some(body), None) => Some(parse(body)?),
        _ => None,
    };
    let theirs = if item.deleted_at.is_some() {
        None
    } else {
        revision_doc(app, &mut c, &item, item.revision).await?
    };
    let draft = if with_draft {
        Some(match (&mine, &theirs) {
            (Some(mine), Some(theirs)) => {
                match revision_doc(app, &mut c, &item, row.base_revision).await? {
                    Some(base) => match merge::merge(&base, theirs, mine) {
                        Merge::Clean(doc) => doc,
                        Merge::Conflicted { merged, .. } => merged,
                    },
                    None => theirs.clone(),
                }
            }
            (None, Some(theirs)) => theirs.clone(),
            (Some(mine), None) => mine.clone(),
            (None, None) => Value::Null,
        })
    } else {
        None
    };
    let fields = details(&row);
    let detail = api::ConflictDetail {
        conflict: view(&mut c, &row, &item, kind, fields).await?,
        mine,
        theirs,
    };
    Ok((detail, draft))
}

/// Resolves a conflict. The answer names the item as it now is; a
/// `merged` document that meets new changes in the same place makes a new
/// conflict (409) and resolves this one.
pub async fn resolve(
    app: &App,
    actor: &Actor,
    id: &str,
    keep_side: Keep,
    document: Option<Value>,
) -> Result<api::Resolved> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (row, item, kind) = load(&mut tx, actor, id).await?;
    if row.resolved_at.is_some() {
        return Err(Error::conflict(
            "conflict_resolved",
            None,
            format!(
                "this conflict was already resolved ({})",
                row.resolution.as_deref().unwrap_or("?")
            ),
        ));
    }
    let resolution = match keep_side {
        Keep::Mine => "mine",
        Keep::Theirs => "theirs",
        Keep::Merged => "merged",
    };
    if !store::sync::resolve_conflict(&mut tx, &row.id, resolution, now).await? {
        return Err(Error::conflict(
            "conflict_resolved",
            None,
            "this conflict was just resolved on another device",
        ));
    }
    let deleted = item.deleted_at.is_some();
    let outcome = match keep_side {
        Keep::Theirs => None,
        Keep::Mine if row.op == "delete" => {
            let item =
                load_locked(&mut tx, actor, kind, &item.id, ItemAction::Remove, deleted).await?;
            if !deleted {
                mark_deleted(&mut tx, actor, kind, &item, now).await?;
            }
            tx.commit().await?;
            return Ok(api::Resolved {
                item: None,
                merged: false,
            });
        }
        Keep::Mine => {
            let body = row.body.as_deref().ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("conflict {} has no document", row.id))
            })?;
            let json = match &row.key_id {
                Some(key) => super::secrets::open(&mut tx, &app.kek, key, body).await?,
                None => body.to_owned(),
            };
            let mine = documents::prepare(kind, parse(&json)?, &item.id)?;
            let item = revive(&mut tx, actor, kind, &item, now).await?;
            Some(
                write_onto(
                    app,
                    &mut tx,
                    actor,
                    kind,
                    &item,
                    mine,
                    Base::Revision(row.base_revision),
                    Some(Side::Mine),
                    now,
                )
                .await?,
            )
        }
        Keep::Merged => {
            let doc = document.ok_or_else(|| {
                Error::field(
                    "document",
                    "required",
                    "send the merged document (`document`) to keep a merge",
                )
            })?;
            let mine = documents::prepare(kind, doc, &item.id)?;
            let item = revive(&mut tx, actor, kind, &item, now).await?;
            Some(
                write_onto(
                    app,
                    &mut tx,
                    actor,
                    kind,
                    &item,
                    mine,
                    Base::Revision(row.theirs_revision),
                    None,
                    now,
                )
                .await?,
            )
        }
    };
    match outcome {
        None => {
            tx.commit().await?;
            let current = store::items::by_id(&mut *app.store.conn().await?, &item.id).await?;
            Ok(api::Resolved {
                item: current
                    .filter(|i| i.deleted_at.is_none())
                    .map(|i| item_ref(&i)),
                merged: false,
            })
        }
        Some(Outcome::Written { item, merged }) => {
            tx.commit().await?;
            Ok(api::Resolved {
                item: Some(item_ref(&item)),
                merged,
            })
        }
        Some(Outcome::Conflict(view)) => {
            tx.commit().await?;
            Err(conflict_error(view))
        }
    }
}

/// The item, locked for writing, brought back first when it was deleted
/// meanwhile (keeping an edit against a delete restores the item).
async fn revive(
    tx: &mut Tx,
    actor: &Actor,
    kind: ItemKind,
    item: &ItemRow,
    now: Millis,
) -> Result<ItemRow> {
    if item.deleted_at.is_none() {
        return load_locked(tx, actor, kind, &item.id, ItemAction::Write, false).await;
    }
    let item = load_locked(tx, actor, kind, &item.id, ItemAction::Remove, true).await?;
    let row = store::items::set_deleted(tx, &item.id, None, None).await?;
    let event = ItemEvent::Undeleted {
        item: kind,
        name: row.name.clone(),
        revision: row.revision,
    };
    record(tx, &row, actor, event, now).await?;
    Ok(row)
}
