//! The change log (S4): what a client missed, in order, from an opaque
//! cursor.
//!
//! A person sees the items scope of their own items and of every team where
//! they hold a seat. Within a scope, events are numbered in commit order
//! (the counter row is locked until the writer commits, see
//! `store::events`), so a reader that has seen number n has seen everything
//! before it: a change that commits late can never fall behind a cursor.
//!
//! The cursor holds a position per scope, signed with a server key and
//! bound to the person, so it cannot be forged or passed to someone else.
//! A position is one of:
//! - a number: the last event delivered;
//! - a snapshot under way: a scope new to the cursor (the first sync, or a
//!   team just joined) sends its live items as `created`, page by page by
//!   id, then goes on from the number its log had when the snapshot began
//!   (an item changed meanwhile comes again as a change: a client applies
//!   revisions, so seeing one twice is harmless);
//! - leaving: a scope no longer the person's (removed from the team, or
//!   the seat taken away) sends its items as `deleted`, then is dropped.
//!
//! The log is kept for `change_log_days`; the janitor prunes older changes
//! and notes the last number pruned. A cursor before it answers 410
//! `cursor_expired`: the client starts again without a cursor.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use postroom_core::api::{self, Change, ChangeOp, ChangePage};
use postroom_core::{ItemEvent, ItemKind, Stored};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{team_scope, user_scope};
use crate::clock::{rfc3339, Millis};
use crate::domain::actor::Actor;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, events::EventRow, items::ItemRow, items::OwnerId, Conn};

pub const DEFAULT_LIMIT: u32 = 500;
pub const MAX_LIMIT: u32 = 1000;

/// Where a client stands in one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pos {
    /// The last event delivered.
    Seq(i64),
    /// Sending the scope's items: the log's number when it began, and the
    /// last item id sent.
    Snapshot(i64, String),
    /// Sending the scope's items as deleted, after this id.
    Leaving(String),
}

/// A client's place in the change log: a position per scope, by key (`u`
/// for the person's own items, `t<team id>` for a team's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "p")]
    pub positions: BTreeMap<String, Pos>,
}

fn mac(key: &[u8; 32], user_id: &str, payload: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(user_id.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The MAC's length in the cursor, in bytes (128 bits).
const MAC_BYTES: usize = 16;

impl Cursor {
    /// The cursor as a client holds it: `<payload>.<mac>`, URL-safe.
    pub fn encode(&self, key: &[u8; 32], user_id: &str) -> String {
        let json = serde_json::to_string(self).expect("a cursor serializes");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = mac(key, user_id, &payload);
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// A cursor this server gave to this person, or 400 `invalid_cursor`.
    pub fn decode(key: &[u8; 32], user_id: &str, text: &str) -> Result<Cursor> {
        let bad = || {
            Error::bad_request(
                "invalid_cursor",
                "the cursor is not one this server gave you: start without one",
            )
        };
        if text.len() > 64 * 1024 {
            return Err(bad());
        }
        let (payload, tag) = text.split_once('.').ok_or_else(bad)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let expected = mac(key, user_id, payload);
        if tag.len() != MAC_BYTES || !bool::from(tag.ct_eq(&expected[..MAC_BYTES])) {
            return Err(bad());
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        serde_json::from_slice(&json).map_err(|_| bad())
    }
}

/// One scope a person sees.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The cursor's key for it.
    pub key: String,
    /// The events scope.
    pub scope: String,
    /// The team's id and slug, for a team's scope.
    pub team: Option<(String, String)>,
}

impl Scope {
    fn owner(&self, user_id: &str) -> (String, Option<String>) {
        match &self.team {
            Some((id, _)) => (id.clone(), Some(id.clone())),
            None => (user_id.to_owned(), None),
        }
    }
}

/// The scopes `user_id` sees now: their own and each team where they hold
/// a seat.
pub async fn scopes_of(c: &mut Conn, user_id: &str) -> Result<Vec<Scope>> {
    let mut scopes = vec![Scope {
        key: "u".into(),
        scope: user_scope(user_id),
        team: None,
    }];
    for t in store::teams::of_user(c, user_id).await? {
        if t.support_only != 0 {
            continue;
        }
        scopes.push(Scope {
            key: format!("t{}", t.team.id),
            scope: team_scope(&t.team.id),
            team: Some((t.team.id, t.team.slug)),
        });
    }
    Ok(scopes)
}

/// Turns stored events into changes, naming their authors.
pub struct Namer {
    people: HashMap<String, Option<String>>,
}

impl Namer {
    pub fn new() -> Namer {
        Namer {
            people: HashMap::new(),
        }
    }

    async fn person(&mut self, c: &mut Conn, id: Option<&str>) -> Result<Option<api::ItemUser>> {
        let Some(id) = id else { return Ok(None) };
        if !self.people.contains_key(id) {
            let name = store::users::by_id(c, id).await?.map(|u| u.username);
            if self.people.len() > 10_000 {
                self.people.clear();
            }
            self.people.insert(id.to_owned(), name);
        }
        Ok(Some(api::ItemUser {
            id: id.to_owned(),
            username: self.people.get(id).cloned().flatten(),
        }))
    }

    /// The change an event records, or `None` for an event that is not an
    /// item's (none are, in an items scope) or that this version cannot read.
    pub async fn event(
        &mut self,
        c: &mut Conn,
        row: &EventRow,
        team: Option<&str>,
    ) -> Result<Option<Change>> {
        self.person(c, row.actor_id.as_deref()).await?;
        Ok(self
            .known_event(row, team)
            .expect("the author was just looked up"))
    }

    /// [`Namer::event`] without the store, when the event's author is named
    /// already (or it has none); `None` when the author must be looked up.
    /// A live socket sends each change this way: taking a pooled connection
    /// for nothing cost a round trip to the database when it was given back.
    pub fn known_event(&self, row: &EventRow, team: Option<&str>) -> Option<Option<Change>> {
        let actor = match row.actor_id.as_deref() {
            Some(id) => Some(api::ItemUser {
                id: id.to_owned(),
                username: self.people.get(id)?.clone(),
            }),
            None => None,
        };
        let (Some(event), Some(id)) = (
            ItemEvent::from_stored(&row.kind, &row.data),
            row.subject.as_ref(),
        ) else {
            return Some(None);
        };
        let op = match event.op() {
            "created" => ChangeOp::Created,
            "updated" => ChangeOp::Updated,
            _ => ChangeOp::Deleted,
        };
        Some(Some(Change {
            kind: event.item_kind(),
            id: id.clone(),
            op,
            revision: event.revision(),
            name: event.name().to_owned(),
            team: team.map(str::to_owned),
            actor,
            at: rfc3339(row.created_at),
        }))
    }

    async fn item(
        &mut self,
        c: &mut Conn,
        item: &ItemRow,
        op: ChangeOp,
        team: Option<&str>,
        at: i64,
    ) -> Result<Change> {
        let actor = match op {
            ChangeOp::Deleted => None,
            _ => self.person(c, item.updated_by.as_deref()).await?,
        };
        Ok(Change {
            kind: ItemKind::parse(&item.kind).unwrap_or(ItemKind::Collection),
            id: item.id.clone(),
            op,
            revision: item.revision,
            name: item.name.clone(),
            team: team.map(str::to_owned),
            actor,
            at: rfc3339(at),
        })
    }
}

impl Default for Namer {
    fn default() -> Self {
        Namer::new()
    }
}

pub(crate) fn expired() -> Error {
    Error::Gone {
        code: "cursor_expired",
        message: "this cursor is older than the change log keeps: fetch everything again by \
                  asking without a cursor"
            .into(),
    }
}

/// The changes after `since` that the actor may see, at most `limit`.
pub async fn changes(
    app: &App,
    actor: &Actor,
    since: Option<&str>,
    limit: Option<u32>,
) -> Result<ChangePage> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
    let cursor = match since {
        Some(text) => Cursor::decode(&app.cursor_key, &actor.user_id, text)?,
        None => Cursor::default(),
    };
    let mut c = app.store.conn().await?;
    let scopes = scopes_of(&mut c, &actor.user_id).await?;
    let mut namer = Namer::new();
    let (changes, cursor, more) = page(
        &mut c,
        &actor.user_id,
        &scopes,
        cursor,
        limit,
        &mut namer,
        app.clock.now(),
    )
    .await?;
    Ok(ChangePage {
        changes,
        cursor: cursor.encode(&app.cursor_key, &actor.user_id),
        more,
    })
}

/// One page of changes from `cursor` over `scopes`; the cursor after it,
/// and whether more are waiting.
pub async fn page(
    c: &mut Conn,
    user_id: &str,
    scopes: &[Scope],
    mut cursor: Cursor,
    limit: usize,
    namer: &mut Namer,
    now: Millis,
) -> Result<(Vec<Change>, Cursor, bool)> {
    let mut out = Vec::new();
    let mut more = false;

    // Scopes no longer seen: their items go, then the scope.
    let seen: HashMap<&str, &Scope> = scopes.iter().map(|s| (s.key.as_str(), s)).collect();
    let left: Vec<String> = cursor
        .positions
        .keys()
        .filter(|k| !seen.contains_key(k.as_str()))
        .cloned()
        .collect();
    for key in left {
        let Some(team_id) = key.strip_prefix('t') else {
            cursor.positions.remove(&key);
            continue;
        };
        let after = match cursor.positions.get(&key) {
            Some(Pos::Leaving(after)) => after.clone(),
            _ => String::new(),
        };
        let room = limit - out.len();
        if room == 0 {
            more = true;
            break;
        }
        let rows =
            store::sync::items_page(c, &OwnerId::Team(team_id), &after, room as i64 + 1).await?;
        let done = rows.len() <= room;
        for item in rows.iter().take(room) {
            out.push(namer.item(c, item, ChangeOp::Deleted, None, now).await?);
        }
        if done {
            cursor.positions.remove(&key);
        } else {
            let last = rows[room - 1].id.clone();
            cursor.positions.insert(key, Pos::Leaving(last));
            more = true;
        }
    }

    // Scopes new to the cursor start with a snapshot.
    for scope in scopes {
        if !cursor.positions.contains_key(&scope.key) {
            let upto = store::events::last_seq(c, &scope.scope).await?;
            cursor
                .positions
                .insert(scope.key.clone(), Pos::Snapshot(upto, String::new()));
        }
    }

    // Snapshots under way.
    for scope in scopes {
        let Some(Pos::Snapshot(upto, after)) = cursor.positions.get(&scope.key).cloned() else {
            continue;
        };
        let room = limit - out.len();
        if room == 0 {
            more = true;
            break;
        }
        let (owner_id, team_id) = scope.owner(user_id);
        let owner = match team_id {
            Some(_) => OwnerId::Team(&owner_id),
            None => OwnerId::User(&owner_id),
        };
        let rows = store::sync::items_page(c, &owner, &after, room as i64 + 1).await?;
        let team = scope.team.as_ref().map(|(_, slug)| slug.as_str());
        for item in rows.iter().take(room) {
            let change = namer
                .item(c, item, ChangeOp::Created, team, item.updated_at)
                .await?;
            out.push(change);
        }
        if rows.len() <= room {
            cursor.positions.insert(scope.key.clone(), Pos::Seq(upto));
        } else {
            let last = rows[room - 1].id.clone();
            cursor
                .positions
                .insert(scope.key.clone(), Pos::Snapshot(upto, last));
            more = true;
        }
    }

    // The logs, merged in time order across scopes.
    let room = limit - out.len();
    if room == 0 {
        // Full: the logs are read next time.
        return Ok((out, cursor, true));
    }
    // Each scope's events in number order; the merge takes the earliest
    // head each time, so a scope is never cut past an event not delivered.
    let mut heads: Vec<std::collections::VecDeque<EventRow>> = Vec::new();
    for scope in scopes {
        let rows = match cursor.positions.get(&scope.key) {
            Some(Pos::Seq(after)) => {
                if store::sync::pruned_seq(c, &scope.scope).await? > *after {
                    return Err(expired());
                }
                store::events::since(c, &scope.scope, *after, room as i64 + 1).await?
            }
            _ => Vec::new(),
        };
        if rows.len() > room {
            more = true;
        }
        heads.push(rows.into_iter().take(room).collect());
    }
    for _ in 0..room {
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.front().map(|r| (i, (r.created_at, r.id.clone()))))
            .min_by(|a, b| a.1.cmp(&b.1))
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        let row = heads[i].pop_front().expect("a head");
        let scope = &scopes[i];
        let team = scope.team.as_ref().map(|(_, slug)| slug.as_str());
        cursor
            .positions
            .insert(scope.key.clone(), Pos::Seq(row.seq));
        if let Some(change) = namer.event(c, &row, team).await? {
            out.push(change);
        }
    }
    if heads.iter().any(|q| !q.is_empty()) {
        more = true;
    }
    Ok((out, cursor, more))
}

/// Removes changes older than the log keeps (the janitor does it on its
/// rounds; tests call it after moving the clock).
pub async fn prune(app: &App) -> Result<u64> {
    let kept = app.clock.now() - i64::from(app.settings.change_log_days) * crate::clock::DAY;
    let mut tx = app.store.begin().await?;
    let n = store::sync::prune(&mut tx, kept).await?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_for_its_person_and_untouched() {
        let key = [7u8; 32];
        let mut cursor = Cursor::default();
        cursor.positions.insert("u".into(), Pos::Seq(12));
        cursor
            .positions
            .insert("tabc".into(), Pos::Snapshot(4, "item-9".into()));
        cursor
            .positions
            .insert("tdef".into(), Pos::Leaving(String::new()));
        let text = cursor.encode(&key, "ada");
        assert_eq!(Cursor::decode(&key, "ada", &text).unwrap(), cursor);
        assert!(
            Cursor::decode(&key, "bob", &text).is_err(),
            "another person's"
        );
        assert!(
            Cursor::decode(&[8u8; 32], "ada", &text).is_err(),
            "another key"
        );
        let (payload, tag) = text.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"p":{"tother":0}}"#);
        assert!(Cursor::decode(&key, "ada", &format!("{forged}.{tag}")).is_err());
        assert!(Cursor::decode(&key, "ada", payload).is_err(), "no mac");
        assert!(Cursor::decode(&key, "ada", "").is_err());
        assert!(Cursor::decode(&key, "ada", "...").is_err());
    }
}
