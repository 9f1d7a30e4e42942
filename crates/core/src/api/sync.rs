//! Sync's wire types (S4-S7): the change log and its cursor, the messages
//! of the sync socket, and conflicts with their resolution.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::workspace::{ItemRef, ItemUser};
use crate::events::ItemKind;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a change did to an item, as one client sees it: the item appeared
/// where the client can see it (`created`), changed (`updated`), or is no
/// longer there (`deleted`: deleted, moved away, or the client's access to
/// its team ended).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Created,
    Updated,
    Deleted,
}

/// One entry of the change log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Change {
    /// The kind of item.
    #[serde(rename = "type")]
    pub kind: ItemKind,
    pub id: String,
    pub op: ChangeOp,
    /// The item's revision after the change.
    pub revision: i64,
    /// The item's name after the change.
    pub name: String,
    /// The team's slug when the item is a team's; absent for my own.
    pub team: Option<String>,
    /// Who made the change; absent when unknown (a snapshot of an item
    /// whose last writer's account is gone, or an access change).
    pub actor: Option<ItemUser>,
    pub at: String,
}

/// A page of the change log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangePage {
    /// Oldest first.
    pub changes: Vec<Change>,
    /// Pass as `since` next time: it stands after the last change here.
    pub cursor: String,
    /// Whether more changes are waiting (ask again at once).
    pub more: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ChangesQuery {
    /// The cursor of the last page read; absent the first time, which
    /// answers every item I can see as `created`.
    pub since: Option<String>,
    /// At most this many changes (1-1000, default 500).
    pub limit: Option<u32>,
}

/// A message of the sync socket (`GET /api/v1/sync`), one JSON text frame
/// each, tagged by `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncMessage {
    /// A change, with the cursor that stands after it.
    Change { change: Change, cursor: String },
    /// Everything missed was sent; what follows is live.
    Synced { cursor: String },
    /// Sent every few seconds when nothing else is, so either side notices
    /// a dead connection.
    Heartbeat,
}

/// Close codes of the sync socket.
pub mod close {
    /// The session ended (signed out, revoked, expired): sign in again.
    pub const SESSION_ENDED: u16 = 4001;
    /// Access changed (removed from a team): reconnect with the cursor,
    /// which answers the items no longer visible as deleted.
    pub const ACCESS_CHANGED: u16 = 4003;
    /// The cursor is older than the change log: fetch everything again.
    pub const CURSOR_EXPIRED: u16 = 4010;
    /// The client did not read fast enough: reconnect with the cursor.
    pub const TOO_SLOW: u16 = 4008;
    /// The server is shutting down: reconnect (to another node) with the cursor.
    pub const GOING_AWAY: u16 = 1001;
}

/// One field changed both ways (see [`crate::merge::Conflict`]).
pub use crate::merge::Conflict as ConflictField;

/// A write the server could not merge, kept whole until resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConflictView {
    pub id: String,
    /// The item written.
    #[serde(rename = "type")]
    pub kind: ItemKind,
    pub item: ItemRef,
    /// The team's slug when the item is a team's.
    pub team: Option<String>,
    /// `put` (a new revision) or `delete`.
    pub op: String,
    /// The revision the write started from.
    pub base_revision: i64,
    /// The revision it met.
    pub theirs_revision: i64,
    /// The fields changed both ways (for a delete against edits: the
    /// fields edited since the base).
    pub fields: Vec<ConflictField>,
    pub created_at: String,
    /// `mine`, `theirs` or `merged` once resolved.
    pub resolution: Option<String>,
}

/// A conflict with the documents a person needs to choose: the write kept
/// (`mine`, absent for a delete) and the current one (`theirs`, absent when
/// the item is deleted).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConflictDetail {
    pub conflict: ConflictView,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub mine: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub theirs: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConflictList {
    /// My open conflicts, newest first.
    pub conflicts: Vec<ConflictView>,
}

/// How to resolve a conflict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// My write wins where it conflicts, merged onto the current revision
    /// (edits made since are kept).
    Mine,
    /// The current revision stays; my write is dropped.
    Theirs,
    /// A document I edited (`document`) is written onto the current revision.
    Merged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResolveRequest {
    pub keep: Keep,
    /// With `merged`: the document (a collection, an environment, ...).
    #[serde(default, alias = "collection", alias = "environment")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub document: Option<Value>,
}

/// The answer to a resolution: the item as it now is (absent when the
/// resolution deleted it), and whether another conflict came of it (the
/// item changed again in the meantime in the same place).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Resolved {
    pub item: Option<ItemRef>,
    pub merged: bool,
}
