//! The workspace's wire types (S1-S3, S9): collections, environments,
//! globals, history entries and header presets, their revisions, public
//! links, subscriptions and the activity feed. The documents themselves
//! (a Postman collection, an environment) travel as JSON values, kept as
//! they were written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::ItemKind;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A person, as an item's history names them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ItemUser {
    pub id: String,
    /// Absent when the account no longer exists.
    pub username: Option<String>,
}

/// A team, as an item names its owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeamRef {
    pub slug: String,
    pub name: String,
}

/// Whose an item is: a person's own (`private`) or a team's (`team`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Owner {
    Private { user: ItemUser },
    Team { team: TeamRef },
}

/// An item in a list: what it is, whose, and its last change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ItemSummary {
    pub id: String,
    pub kind: ItemKind,
    pub name: String,
    pub owner: Owner,
    /// The current revision; every write makes a new one.
    pub revision: i64,
    /// The size of the stored document, in bytes.
    pub size: u64,
    pub created_at: String,
    pub created_by: Option<ItemUser>,
    pub updated_at: String,
    pub updated_by: Option<ItemUser>,
    /// Collections: whether I follow it in my feed.
    #[serde(default)]
    pub subscribed: bool,
    /// Set for a deleted item, which can be restored until `purge_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<String>,
}

/// An item named after a write: enough to find it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ItemRef {
    pub id: String,
    pub name: String,
    pub revision: i64,
}

/// Query of the item lists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ItemListQuery {
    /// Only this team's items.
    pub team: Option<String>,
    /// Only my private items (not shared with a team).
    #[serde(default)]
    pub private: bool,
    /// The deleted items (restorable for 30 days) instead of the live ones.
    #[serde(default)]
    pub deleted: bool,
    /// At most this many (1-500, default 100).
    pub limit: Option<u32>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
}

/// Where a new item goes: a team's slug, or nothing for my private items.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MoveRequest {
    /// The team to share it with; absent or null: back to my private items.
    pub team: Option<String>,
}

/// One past or current revision of an item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Revision {
    pub revision: i64,
    pub created_at: String,
    pub created_by: Option<ItemUser>,
    pub size: u64,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevisionList {
    /// Newest first.
    pub revisions: Vec<Revision>,
    pub next: Option<String>,
}

macro_rules! envelopes {
    ($($key:ident: $list:ident / $plural:ident, $create:ident, $put:ident, $saved:ident, $created:ident;)*) => {$(
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub struct $list {
            pub $plural: Vec<ItemSummary>,
            /// Pass as `cursor` for the next page; absent on the last.
            pub next: Option<String>,
        }

        /// A new item, private unless `team` names one of my teams.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub struct $create {
            #[cfg_attr(feature = "openapi", schema(value_type = Object))]
            pub $key: Value,
            #[serde(default)]
            pub team: Option<String>,
        }

        /// A new revision of the item.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub struct $put {
            #[cfg_attr(feature = "openapi", schema(value_type = Object))]
            pub $key: Value,
        }

        /// The answer to a write.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub struct $saved {
            pub $key: ItemRef,
            /// Whether the write was merged with changes made since its base.
            #[serde(default)]
            pub merged: bool,
        }

        /// The answer to a create.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        pub struct $created {
            pub $key: ItemRef,
        }
    )*};
}

envelopes! {
    collection: CollectionList / collections, CreateCollectionRequest, PutCollectionRequest, SavedCollection, CreatedCollection;
    environment: EnvironmentList / environments, CreateEnvironmentRequest, PutEnvironmentRequest, SavedEnvironment, CreatedEnvironment;
    header_preset: HeaderPresetList / header_presets, CreateHeaderPresetRequest, PutHeaderPresetRequest, SavedHeaderPreset, CreatedHeaderPreset;
    entry: HistoryList / history, CreateHistoryRequest, PutHistoryRequest, SavedHistory, CreatedHistory;
}

/// The globals (variables every request can use) of me or of a team.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PutGlobalsRequest {
    /// `{values: [{key, value, enabled, type}]}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub globals: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SavedGlobals {
    pub globals: ItemRef,
    #[serde(default)]
    pub merged: bool,
}

/// Query of the globals: a team's instead of mine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct GlobalsQuery {
    pub team: Option<String>,
}

/// An item's summary after a move.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ItemSummaryEnvelope {
    pub item: ItemSummary,
}

/// A person's private items, as documents, in an account export (P9): each
/// collection and environment as Postman reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceExport {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub collections: Vec<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub environments: Vec<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub globals: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub history: Vec<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub header_presets: Vec<Value>,
}

/// What `POST /api/v1/imports` made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportResult {
    pub collections: Vec<ItemRef>,
    pub environments: Vec<ItemRef>,
    /// Files of a zip that were neither (the export's `archive.json`, ...).
    pub skipped: Vec<SkippedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// Query of `POST /api/v1/imports`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ImportQuery {
    /// Import into this team instead of my private items.
    pub team: Option<String>,
}

/// A public read-only link to a collection (S2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Link {
    pub id: String,
    /// Answers the collection's JSON (`newman run <url>` works), or a
    /// read-only page to a browser.
    pub url: String,
    pub collection: ItemRef,
    pub created_by: Option<ItemUser>,
    pub created_at: String,
    /// The team the collection belongs to, for a team's collection.
    pub team: Option<TeamRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LinkEnvelope {
    pub link: Link,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LinkList {
    /// Mine, and for a team I administer, every link to its collections.
    pub links: Vec<Link>,
}

/// What a feed entry is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeedItem {
    pub id: String,
    pub kind: ItemKind,
    /// Its name at the time.
    pub name: String,
}

/// One change in the activity feed (S3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeedEvent {
    pub id: String,
    pub at: String,
    pub actor: Option<ItemUser>,
    /// `created`, `updated`, `deleted`, `undeleted`, `moved_in`, `moved_out`.
    pub action: String,
    /// The event in one sentence, for people.
    pub summary: String,
    pub item: FeedItem,
    pub revision: i64,
    /// The team whose item it is; absent for my private items.
    pub team: Option<TeamRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeedPage {
    /// Newest first.
    pub events: Vec<FeedEvent>,
    /// Pass as `before` for older events; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct FeedQuery {
    pub before: Option<String>,
    /// At most this many (1-200, default 50).
    pub limit: Option<u32>,
}
