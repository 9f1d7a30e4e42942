//! The in-process change hub: who is listening to which scope, and the news
//! that a scope has a new event. A committed [`crate::store::Tx`] publishes
//! the positions (`scope`, `seq`) of the events it recorded; on PostgreSQL
//! the commit also carries them to every other node, whose listener
//! publishes them to its own hub. Live sockets (sync, next) subscribe here.
//!
//! The hub only says "there is something new at this position"; the events
//! themselves are read from the store, in order, by [`Subscription::next`].
//! So nothing is lost when a notice is: a subscriber whose queue is full is
//! dropped (a slow reader never holds up the others or the writer), and a
//! notice that never came (a node's listener reconnecting) shows up as a gap
//! in the sequence, or at the latest on the next poll; either way the
//! subscriber reads what it missed from the stored sequence.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{self, events::EventRow, Store};

/// Notices a subscriber may have waiting before it counts as too slow.
pub const QUEUE: usize = 256;
/// How often a subscriber looks at the store when no notice came.
pub const POLL: Duration = Duration::from_secs(30);
/// Events read from the store at a time.
const PAGE: i64 = 500;

/// A new event's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub scope: String,
    pub seq: i64,
}

struct Subscriber {
    id: u64,
    queue: mpsc::Sender<Notice>,
}

#[derive(Default)]
struct Inner {
    /// The subscribers of each scope.
    scopes: HashMap<String, Vec<Subscriber>>,
}

#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Mutex<Inner>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Listens to `scopes` from their positions in `from` (a scope not in it
    /// starts after its current last event, read on the first
    /// [`Subscription::next`]).
    pub fn subscribe(&self, scopes: &[String], from: HashMap<String, i64>) -> Subscription {
        self.subscribe_with(scopes, from, QUEUE, POLL)
    }

    /// [`Hub::subscribe`] with a queue length and poll interval of its own.
    pub fn subscribe_with(
        &self,
        scopes: &[String],
        from: HashMap<String, i64>,
        queue: usize,
        poll: Duration,
    ) -> Subscription {
        let (id, rx) = self.register(scopes, queue);
        Subscription {
            hub: self.clone(),
            id,
            scopes: scopes.to_vec(),
            queue_len: queue,
            poll,
            rx: Some(rx),
            positions: from,
        }
    }

    fn register(&self, scopes: &[String], queue: usize) -> (u64, mpsc::Receiver<Notice>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(queue.max(1));
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for scope in scopes {
            inner
                .scopes
                .entry(scope.clone())
                .or_default()
                .push(Subscriber {
                    id,
                    queue: tx.clone(),
                });
        }
        (id, rx)
    }

    fn unregister(&self, id: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.scopes.retain(|_, subs| {
            subs.retain(|s| s.id != id);
            !subs.is_empty()
        });
    }

    /// Tells the subscribers of `scope` that event `seq` exists. Never
    /// waits: a subscriber whose queue is full is dropped from the hub (its
    /// subscription notices, and catches up from the store).
    pub fn publish(&self, scope: &str, seq: i64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = inner.scopes.get_mut(scope) else {
            return;
        };
        let mut dropped = Vec::new();
        for sub in subs.iter() {
            let notice = Notice {
                scope: scope.to_owned(),
                seq,
            };
            if sub.queue.try_send(notice).is_err() {
                dropped.push(sub.id);
            }
        }
        if !dropped.is_empty() {
            metrics::counter!("postroom_hub_dropped_total").increment(dropped.len() as u64);
            inner.scopes.retain(|_, subs| {
                subs.retain(|s| !dropped.contains(&s.id));
                !subs.is_empty()
            });
        }
    }

    /// Tells every subscriber to look at the store (another node recorded
    /// events in more scopes than one notification could name).
    pub fn wake_all(&self) {
        let scopes: Vec<String> = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.scopes.keys().cloned().collect()
        };
        for scope in scopes {
            self.publish(&scope, i64::MAX);
        }
    }

    /// How many subscriptions listen to `scope`.
    pub fn subscribers(&self, scope: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.scopes.get(scope).map_or(0, Vec::len)
    }
}

/// One listener's view of some scopes: [`Subscription::next`] gives their
/// new events in order, each exactly once.
pub struct Subscription {
    hub: Hub,
    id: u64,
    scopes: Vec<String>,
    queue_len: usize,
    poll: Duration,
    /// `None` after the hub dropped this subscriber for being slow.
    rx: Option<mpsc::Receiver<Notice>>,
    /// The last event delivered, per scope.
    positions: HashMap<String, i64>,
}

impl Subscription {
    /// The last event delivered in `scope`.
    pub fn position(&self, scope: &str) -> Option<i64> {
        self.positions.get(scope).copied()
    }

    /// Waits for news and returns the events after this subscription's
    /// positions, oldest first per scope (at least one, unless the store
    /// fails). Scopes without a position start at their current end.
    pub async fn next(&mut self, store: &Store) -> Result<Vec<EventRow>, sqlx::Error> {
        self.start_missing(store).await?;
        loop {
            if self.rx.as_ref().is_none_or(|rx| rx.is_closed()) {
                // Dropped as too slow: listen again first, then read what
                // was missed from the store, so nothing falls in between.
                let (id, rx) = self.hub.register(&self.scopes, self.queue_len);
                self.id = id;
                self.rx = Some(rx);
            }
            // Anything already stored and not yet delivered comes first (a
            // notice lost on the way, or the catch-up after a drop).
            let found = self.catch_up(store, None).await?;
            if !found.is_empty() {
                return Ok(found);
            }
            let rx = self.rx.as_mut().expect("listening");
            match tokio::time::timeout(self.poll, rx.recv()).await {
                Ok(Some(notice)) => {
                    let last = self.positions.get(&notice.scope).copied().unwrap_or(0);
                    if notice.seq <= last {
                        continue; // delivered already
                    }
                    let found = self.catch_up(store, Some(&notice.scope)).await?;
                    if !found.is_empty() {
                        return Ok(found);
                    }
                }
                // The hub dropped this subscriber; the loop listens again.
                Ok(None) => self.rx = None,
                Err(_) => {} // poll the store
            }
        }
    }

    /// Gives each scope without a position its current end.
    async fn start_missing(&mut self, store: &Store) -> Result<(), sqlx::Error> {
        let missing: Vec<String> = self
            .scopes
            .iter()
            .filter(|s| !self.positions.contains_key(*s))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut c = store.conn().await?;
        for scope in missing {
            let last = store::events::last_seq(&mut c, &scope).await?;
            self.positions.insert(scope, last);
        }
        Ok(())
    }

    /// The stored events after this subscription's positions, in `only` or
    /// in every scope; moves the positions past them.
    async fn catch_up(
        &mut self,
        store: &Store,
        only: Option<&str>,
    ) -> Result<Vec<EventRow>, sqlx::Error> {
        let mut c = store.conn().await?;
        let mut found = Vec::new();
        for scope in &self.scopes {
            if only.is_some_and(|o| o != scope) {
                continue;
            }
            let after = self.positions.get(scope).copied().unwrap_or(0);
            let rows = store::events::since(&mut c, scope, after, PAGE).await?;
            if let Some(last) = rows.last() {
                self.positions.insert(scope.clone(), last.seq);
            }
            found.extend(rows);
        }
        Ok(found)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "team:t1";

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        (dir, store)
    }

    /// Records `n` events in `scope` in one transaction.
    async fn record(store: &Store, scope: &str, n: usize) {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..n {
            store::events::append(&mut tx, scope, None, "k", "{}", 0)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// Records `n` events whose notice is lost on its way.
    async fn record_quietly(store: &Store, scope: &str, n: usize) {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..n {
            store::events::append(&mut tx, scope, None, "k", "{}", 0)
                .await
                .unwrap();
        }
        tx.forget_events();
        tx.commit().await.unwrap();
    }

    async fn next_seqs(sub: &mut Subscription, store: &Store) -> Vec<i64> {
        tokio::time::timeout(Duration::from_secs(5), sub.next(store))
            .await
            .expect("news within 5 s")
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect()
    }

    fn from_start() -> HashMap<String, i64> {
        HashMap::from([(SCOPE.to_owned(), 0)])
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_once_in_order() {
        let (_dir, store) = store().await;
        let hub = store.hub().clone();
        let mut a = hub.subscribe(&[SCOPE.to_owned()], from_start());
        let mut b = hub.subscribe(&[SCOPE.to_owned()], from_start());
        let mut other = hub.subscribe(&["team:other".to_owned()], HashMap::new());
        assert_eq!(hub.subscribers(SCOPE), 2);
        record(&store, SCOPE, 2).await;
        record(&store, SCOPE, 1).await;
        for sub in [&mut a, &mut b] {
            let mut seen = Vec::new();
            while seen.len() < 3 {
                seen.extend(next_seqs(sub, &store).await);
            }
            assert_eq!(seen, [1, 2, 3]);
            assert_eq!(sub.position(SCOPE), Some(3));
        }
        // A subscriber of another scope hears nothing of this one.
        let quiet = tokio::time::timeout(Duration::from_millis(200), other.next(&store)).await;
        assert!(quiet.is_err(), "nothing for another scope");
        drop(a);
        assert_eq!(hub.subscribers(SCOPE), 1);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_catches_up_from_the_store() {
        let (_dir, store) = store().await;
        let hub = store.hub().clone();
        // Never reads until the end, with room for 2 notices.
        let mut slow = hub.subscribe_with(&[SCOPE.to_owned()], from_start(), 2, POLL);
        let mut fast = hub.subscribe(&[SCOPE.to_owned()], from_start());
        for n in 1..=20 {
            record(&store, SCOPE, 1).await;
            // The fast one keeps up; the writer never waits for the slow one.
            assert_eq!(next_seqs(&mut fast, &store).await, [n]);
        }
        assert_eq!(hub.subscribers(SCOPE), 1, "the slow one was dropped");
        let mut seen = Vec::new();
        while seen.len() < 20 {
            seen.extend(next_seqs(&mut slow, &store).await);
        }
        assert_eq!(seen, (1..=20).collect::<Vec<_>>());
        // And it listens again from there.
        assert_eq!(hub.subscribers(SCOPE), 2);
        record(&store, SCOPE, 1).await;
        assert_eq!(next_seqs(&mut slow, &store).await, [21]);
    }

    #[tokio::test]
    async fn a_lost_notice_is_caught_up_by_the_next_one_or_a_poll() {
        let (_dir, store) = store().await;
        let hub = store.hub().clone();
        let mut sub = hub.subscribe_with(
            &[SCOPE.to_owned()],
            from_start(),
            QUEUE,
            Duration::from_millis(100),
        );
        // Event 1's notice is lost; event 2's arrives: both come, in order.
        record_quietly(&store, SCOPE, 1).await;
        record(&store, SCOPE, 1).await;
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.extend(next_seqs(&mut sub, &store).await);
        }
        assert_eq!(seen, [1, 2]);
        // A lost notice with nothing after it: the poll finds it.
        record_quietly(&store, SCOPE, 1).await;
        assert_eq!(next_seqs(&mut sub, &store).await, [3]);
    }

    #[tokio::test]
    async fn a_new_subscriber_starts_at_the_end_unless_given_a_position() {
        let (_dir, store) = store().await;
        record(&store, SCOPE, 3).await;
        let hub = store.hub().clone();
        let mut from_now = hub.subscribe(&[SCOPE.to_owned()], HashMap::new());
        let mut from_two =
            hub.subscribe(&[SCOPE.to_owned()], HashMap::from([(SCOPE.to_owned(), 2)]));
        assert_eq!(next_seqs(&mut from_two, &store).await, [3]);
        let waiting = from_now.next(&store);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut waiting)
                .await
                .is_err(),
            "nothing new yet"
        );
        record(&store, SCOPE, 1).await;
        let seqs: Vec<i64> = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [4]);
    }
}
