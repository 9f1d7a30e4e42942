//! A read-through cache of live sessions (by token hash) and accounts (by
//! id), so that an authenticated read costs no database round trip.
//!
//! Correctness rests on three rules:
//! - Every write to an account or to its sessions goes through a [`Tx`]
//!   (the store's writing functions take one) and names the account it
//!   changed; after the commit, the cache drops everything of that account.
//!   On PostgreSQL the commit also carries a `NOTIFY` so that every other
//!   node drops it too (see [`listen`]).
//! - A reader that loaded a row from the database may only cache it if no
//!   change to that account happened since it started reading: the cache
//!   keeps a counter of changes, readers take a [`Stamp`] before the query,
//!   and an insert with a stamp older than the account's last change is
//!   refused. So a revocation that commits while a read is in flight cannot
//!   be undone by that read.
//! - Nothing stays longer than [`MAX_AGE`], which bounds how stale an entry
//!   can be after a write that bypassed this process (an admin command on
//!   the same SQLite file, a lost notification between reconnections).
//!
//! Session activity is not a change: the caller moves the cached copy
//! itself, and a node whose copy looks expired asks the database again.
//!
//! [`Tx`]: super::Tx

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use sqlx::postgres::PgListener;

use super::sessions::SessionRow;
use super::users::UserRow;
use super::{Backend, Store};
use crate::clock::{Millis, SECOND};

/// The longest an entry is served without asking the database again.
pub const MAX_AGE: Millis = 10 * SECOND;
/// Entries kept at most, per kind; past that, old ones are dropped first and
/// then everything.
const CAPACITY: usize = 100_000;
/// Change marks kept before they are folded into the floor.
const MAX_CHANGE_MARKS: usize = 10_000;

/// The `NOTIFY` channel that carries changes between nodes.
pub const CHANNEL: &str = "postroom_changes";
/// A notification payload that drops everything (too many accounts changed
/// in one transaction to name them).
pub const EVERYTHING: &str = "*";
/// More accounts, or event scopes, than this in one transaction are
/// announced to other nodes as "everything" (a notification holds at most
/// 8000 bytes).
const MAX_NAMED: usize = 100;
/// PostgreSQL's limit on a notification payload, with room to spare for
/// the sending node's name, added after.
const MAX_PAYLOAD: usize = 7_850;

/// What one committed transaction tells the other nodes: the accounts it
/// changed and the last event it recorded in each scope.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct News {
    #[serde(default, rename = "u", skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Too many accounts to name: drop every cached one.
    #[serde(default, rename = "U", skip_serializing_if = "std::ops::Not::not")]
    pub all_accounts: bool,
    #[serde(default, rename = "e", skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<(String, i64)>,
    /// Too many scopes to name: every listener looks at the store.
    #[serde(default, rename = "E", skip_serializing_if = "std::ops::Not::not")]
    pub all_events: bool,
    /// The node that sent it; its own listener passes over it, since that
    /// node's cache and hub heard of the change at its commit, events and all.
    #[serde(default, rename = "n", skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl News {
    /// The news of a transaction that changed `accounts` and recorded
    /// `events` (scope, sequence number); a scope is named once, with its
    /// highest number, since listeners read everything up to it.
    pub fn new(accounts: &[String], events: &[(String, i64)]) -> News {
        let mut last: Vec<(String, i64)> = Vec::new();
        for (scope, seq) in events {
            match last.iter_mut().find(|(s, _)| s == scope) {
                Some(entry) => entry.1 = entry.1.max(*seq),
                None => last.push((scope.clone(), *seq)),
            }
        }
        let all_accounts = accounts.len() > MAX_NAMED;
        let all_events = last.len() > MAX_NAMED;
        let mut news = News {
            accounts: if all_accounts {
                Vec::new()
            } else {
                accounts.to_vec()
            },
            all_accounts,
            events: if all_events { Vec::new() } else { last },
            all_events,
            node: None,
        };
        // Still too long for one notification: name fewer things.
        if news.payload().len() > MAX_PAYLOAD {
            news.events.clear();
            news.all_events = true;
        }
        if news.payload().len() > MAX_PAYLOAD {
            news.accounts.clear();
            news.all_accounts = true;
        }
        news
    }

    /// The notification payload.
    pub fn payload(&self) -> String {
        serde_json::to_string(self).expect("news serializes")
    }

    /// Reads a payload; the older form (account ids separated by commas, or
    /// `*`) is still understood during an upgrade.
    pub fn parse(payload: &str) -> News {
        if payload.starts_with('{') {
            if let Ok(news) = serde_json::from_str(payload) {
                return news;
            }
            return News {
                all_accounts: true,
                all_events: true,
                ..News::default()
            };
        }
        if payload == EVERYTHING {
            return News {
                all_accounts: true,
                ..News::default()
            };
        }
        News {
            accounts: payload
                .split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect(),
            ..News::default()
        }
    }
}

/// A session as the cache holds it: the row, plus the activity this node
/// recorded since loading it.
#[derive(Debug)]
pub struct CachedSession {
    pub row: SessionRow,
    last_active_at: AtomicI64,
    expires_at: AtomicI64,
    loaded_at: Millis,
}

impl CachedSession {
    pub fn last_active_at(&self) -> Millis {
        self.last_active_at.load(Ordering::Relaxed)
    }

    pub fn expires_at(&self) -> Millis {
        self.expires_at.load(Ordering::Relaxed)
    }

    /// Claims the recording of activity at `now` for one request among
    /// those that see the same `last_active_at` at once.
    pub fn claim_touch(&self, last_active_at: Millis, now: Millis) -> bool {
        self.last_active_at
            .compare_exchange(last_active_at, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether this copy may still be served at `now`.
    fn fresh(&self, now: Millis) -> bool {
        young(self.loaded_at, now) && self.expires_at() > now
    }

    /// Moves the expiry after activity was written to the database.
    pub fn extend(&self, expires_at: Millis) {
        self.expires_at.fetch_max(expires_at, Ordering::Relaxed);
    }
}

struct CachedUser {
    row: Arc<UserRow>,
    loaded_at: Millis,
}

/// Loaded less than [`MAX_AGE`] ago (and not in a future a clock moved
/// back from).
fn young(loaded_at: Millis, now: Millis) -> bool {
    (loaded_at..loaded_at + MAX_AGE).contains(&now)
}

/// Taken before reading from the database; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Stamp(u64);

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Arc<CachedSession>>,
    users: HashMap<String, CachedUser>,
    /// Counts changes; each change gets the next number.
    changes: u64,
    /// The number of the last change to each account.
    changed: HashMap<String, u64>,
    /// Readers whose stamp is below this may not insert (the marks of the
    /// changes before it were forgotten).
    floor: u64,
}

impl Inner {
    fn may_insert(&self, user_id: &str, stamp: Stamp) -> bool {
        stamp.0 >= self.floor && self.changed.get(user_id).is_none_or(|&c| c <= stamp.0)
    }
}

pub struct Cache {
    inner: Mutex<Inner>,
    /// Off while a PostgreSQL node cannot hear other nodes' changes.
    enabled: AtomicBool,
}

impl Cache {
    pub fn new(enabled: bool) -> Cache {
        Cache {
            inner: Mutex::default(),
            enabled: AtomicBool::new(enabled),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still valid.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// False on a PostgreSQL node that does not (yet) hear other nodes.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    pub fn stamp(&self) -> Stamp {
        Stamp(self.lock().changes)
    }

    /// The cached live session for a token hash.
    pub fn session(&self, token_hash: &str, now: Millis) -> Option<Arc<CachedSession>> {
        if !self.is_enabled() {
            return None;
        }
        let mut inner = self.lock();
        let entry = inner.sessions.get(token_hash)?;
        if !entry.fresh(now) {
            inner.sessions.remove(token_hash);
            return None;
        }
        Some(entry.clone())
    }

    pub fn insert_session(
        &self,
        token_hash: &str,
        row: SessionRow,
        stamp: Stamp,
        now: Millis,
    ) -> Arc<CachedSession> {
        let entry = Arc::new(CachedSession {
            last_active_at: AtomicI64::new(row.last_active_at),
            expires_at: AtomicI64::new(row.expires_at),
            row,
            loaded_at: now,
        });
        if self.is_enabled() {
            let mut inner = self.lock();
            if inner.may_insert(&entry.row.user_id, stamp) {
                if inner.sessions.len() >= CAPACITY {
                    inner.sessions.retain(|_, s| s.fresh(now));
                    if inner.sessions.len() >= CAPACITY {
                        inner.sessions.clear();
                    }
                }
                inner.sessions.insert(token_hash.to_owned(), entry.clone());
            }
        }
        entry
    }

    pub fn user(&self, id: &str, now: Millis) -> Option<Arc<UserRow>> {
        if !self.is_enabled() {
            return None;
        }
        let mut inner = self.lock();
        let entry = inner.users.get(id)?;
        if !young(entry.loaded_at, now) {
            inner.users.remove(id);
            return None;
        }
        Some(entry.row.clone())
    }

    pub fn insert_user(&self, row: UserRow, stamp: Stamp, now: Millis) -> Arc<UserRow> {
        let row = Arc::new(row);
        if self.is_enabled() {
            let mut inner = self.lock();
            if inner.may_insert(&row.id, stamp) {
                if inner.users.len() >= CAPACITY {
                    inner.users.retain(|_, u| young(u.loaded_at, now));
                    if inner.users.len() >= CAPACITY {
                        inner.users.clear();
                    }
                }
                inner.users.insert(
                    row.id.clone(),
                    CachedUser {
                        row: row.clone(),
                        loaded_at: now,
                    },
                );
            }
        }
        row
    }

    /// Drops everything of these accounts, after their change committed.
    pub fn changed<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) {
        let ids: Vec<&str> = user_ids.into_iter().collect();
        if ids.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for id in &ids {
            inner.changes += 1;
            let n = inner.changes;
            inner.changed.insert((*id).to_owned(), n);
            inner.users.remove(*id);
        }
        inner
            .sessions
            .retain(|_, s| !ids.contains(&s.row.user_id.as_str()));
        if inner.changed.len() > MAX_CHANGE_MARKS {
            inner.floor = inner.changes;
            inner.changed.clear();
        }
    }

    /// Drops everything, and refuses inserts from reads already under way.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.changes += 1;
        inner.floor = inner.changes;
        inner.changed.clear();
        inner.sessions.clear();
        inner.users.clear();
    }

    /// Turns the cache off (emptied) or back on (from empty).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
        self.clear();
    }

    /// Drops entries past their age; run by the janitor.
    pub fn sweep(&self, now: Millis) {
        let mut inner = self.lock();
        inner.sessions.retain(|_, s| s.fresh(now));
        inner.users.retain(|_, u| young(u.loaded_at, now));
    }

    fn apply(&self, news: &News) {
        if news.all_accounts {
            self.clear();
        } else {
            self.changed(news.accounts.iter().map(String::as_str));
        }
    }

    fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.sessions.len(), inner.users.len())
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sessions, users) = self.len();
        f.debug_struct("Cache")
            .field("enabled", &self.is_enabled())
            .field("sessions", &sessions)
            .field("users", &users)
            .finish()
    }
}

/// Hears other nodes' changes (PostgreSQL `LISTEN`) and drops them from this
/// node's cache, for as long as the store lives. While it cannot listen, the
/// cache is off, so a missed notification can never leave a revoked session
/// usable here. On SQLite (one process per database) it returns at once.
pub async fn listen(store: Store) {
    if store.backend != Backend::Postgres {
        return;
    }
    let mut warned = false;
    loop {
        match subscribe(&store.url).await {
            Ok(mut listener) => {
                // Anything before this moment may have been missed.
                store.cache.set_enabled(true);
                if warned {
                    tracing::info!("listening for other nodes' changes again; cache on");
                    warned = false;
                }
                loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => {
                            let news = News::parse(n.payload());
                            if news.node.as_deref() == Some(store.hub.node()) {
                                // Ours: this node's hub already has the
                                // events themselves; reading them again from
                                // the store for every subscriber would only
                                // slow the fan-out.
                                continue;
                            }
                            store.cache.apply(&news);
                            if news.all_events || news.all_accounts {
                                store.hub.wake_all();
                            }
                            for user_id in &news.accounts {
                                store.hub.signal(&crate::hub::access_signal(user_id));
                            }
                            for (scope, seq) in &news.events {
                                store.hub.publish(scope, *seq);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the change notifications; cache off");
                            break;
                        }
                    }
                }
                store.cache.set_enabled(false);
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "cannot listen for other nodes' changes; cache off until it can");
                    warned = true;
                }
            }
        }
        if store.pool.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn subscribe(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, user_id: &str, expires_at: Millis) -> SessionRow {
        SessionRow {
            id: id.into(),
            user_id: user_id.into(),
            keep_signed_in: 0,
            user_agent: None,
            ip: None,
            created_at: 0,
            last_active_at: 0,
            expires_at,
            label: None,
        }
    }

    #[test]
    fn serves_until_expiry_or_age() {
        let cache = Cache::new(true);
        let stamp = cache.stamp();
        cache.insert_session("h", session("s", "u", 5_000), stamp, 0);
        assert!(cache.session("h", 4_999).is_some());
        assert!(cache.session("h", 5_000).is_none(), "expired");
        cache.insert_session("h", session("s", "u", MAX_AGE * 2), cache.stamp(), 0);
        assert!(cache.session("h", MAX_AGE - 1).is_some());
        assert!(cache.session("h", MAX_AGE).is_none(), "too old");
    }

    #[test]
    fn a_change_drops_the_accounts_entries_only() {
        let cache = Cache::new(true);
        let stamp = cache.stamp();
        cache.insert_session("a1", session("s1", "a", 60_000), stamp, 0);
        cache.insert_session("a2", session("s2", "a", 60_000), stamp, 0);
        cache.insert_session("b1", session("s3", "b", 60_000), stamp, 0);
        cache.changed(["a"]);
        assert!(cache.session("a1", 1).is_none());
        assert!(cache.session("a2", 1).is_none());
        assert!(cache.session("b1", 1).is_some());
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_cached() {
        let cache = Cache::new(true);
        let before = cache.stamp();
        cache.changed(["a"]);
        cache.insert_session("a1", session("s1", "a", 60_000), before, 0);
        assert!(cache.session("a1", 1).is_none(), "stale read refused");
        // Another account's read is unaffected; a fresh read is cached.
        cache.insert_session("b1", session("s2", "b", 60_000), before, 0);
        assert!(cache.session("b1", 1).is_some());
        cache.insert_session("a1", session("s1", "a", 60_000), cache.stamp(), 0);
        assert!(cache.session("a1", 1).is_some());
    }

    #[test]
    fn forgetting_change_marks_refuses_every_older_read() {
        let cache = Cache::new(true);
        let before = cache.stamp();
        for i in 0..=MAX_CHANGE_MARKS {
            cache.changed([format!("u{i}").as_str()]);
        }
        cache.insert_session("x", session("s", "u0", 60_000), before, 0);
        cache.insert_session("y", session("s", "never-changed", 60_000), before, 0);
        assert_eq!(cache.len(), (0, 0));
        cache.insert_session("x", session("s", "u0", 60_000), cache.stamp(), 0);
        assert_eq!(cache.len(), (1, 0));
    }

    #[test]
    fn off_means_nothing_is_served_and_on_starts_empty() {
        let cache = Cache::new(true);
        let before = cache.stamp();
        cache.insert_session("h", session("s", "u", 60_000), before, 0);
        cache.set_enabled(false);
        assert!(cache.session("h", 1).is_none());
        cache.insert_session("h", session("s", "u", 60_000), cache.stamp(), 0);
        cache.set_enabled(true);
        assert_eq!(cache.len(), (0, 0));
        cache.insert_session("h", session("s", "u", 60_000), before, 0);
        assert!(
            cache.session("h", 1).is_none(),
            "a read from before it came on"
        );
    }

    #[test]
    fn notifications_name_accounts_or_everything() {
        let cache = Cache::new(true);
        for (h, u) in [("1", "a"), ("2", "b"), ("3", "c")] {
            cache.insert_session(h, session(h, u, 60_000), cache.stamp(), 0);
        }
        cache.apply(&News::parse("a,b"));
        assert_eq!(cache.len(), (1, 0));
        cache.apply(&News::parse(EVERYTHING));
        assert_eq!(cache.len(), (0, 0));
    }

    #[test]
    fn news_names_each_scope_once_and_fits_a_notification() {
        let news = News::new(
            &["a".into(), "b".into()],
            &[
                ("team:1".into(), 4),
                ("user:a".into(), 9),
                ("team:1".into(), 5),
            ],
        );
        assert_eq!(
            news.events,
            [("team:1".to_owned(), 5), ("user:a".to_owned(), 9)]
        );
        assert_eq!(News::parse(&news.payload()), news);
        // Many accounts and scopes: "everything", still small.
        let ids: Vec<String> = (0..1000).map(|n| format!("{n:036}")).collect();
        let events: Vec<(String, i64)> = ids.iter().map(|id| (format!("team:{id}"), 1)).collect();
        let big = News::new(&ids, &events);
        assert!(big.all_accounts && big.all_events);
        assert!(big.payload().len() < 100);
        let named = News::new(&ids[..MAX_NAMED], &events[..MAX_NAMED]);
        assert!(named.payload().len() < 8000, "{}", named.payload().len());
        assert!(
            !named.all_accounts && named.all_events,
            "accounts named, events not"
        );
        let fewer = News::new(&ids[..40], &events[..40]);
        assert!(!fewer.all_accounts && !fewer.all_events);
        // A payload that cannot be read drops everything.
        let unreadable = News::parse("{oops");
        assert!(unreadable.all_accounts && unreadable.all_events);
    }
}
