//! The in-process change hub: who is listening to which scope, and the news
//! that a scope has a new event. A committed [`crate::store::Tx`] publishes
//! the events it recorded (position and row); on PostgreSQL the commit also
//! carries their positions to every other node, whose listener publishes
//! them to its own hub. Live sockets (`GET /api/v1/sync`) subscribe here.
//!
//! A notice from this node carries the event itself, so a subscriber that is
//! up to date delivers it without reading the store: one commit reaches a
//! thousand sockets without a thousand queries. A notice from another node
//! carries only the position, and the subscriber reads the events from the
//! store, in order. So nothing is lost when a notice is: a subscriber whose
//! queue is full is dropped (a slow reader never holds up the others or the
//! writer), and a notice that never came (a node's listener reconnecting)
//! shows up as a gap in the sequence, or at the latest on the next poll;
//! either way the subscriber reads what it missed from the stored sequence.
//!
//! Besides scopes of events, a subscription may listen to signals: a name
//! (`access:<user id>`) published when something about that person's access
//! changed (a session revoked, a membership or role changed), which carries
//! no event and only asks the listener to look again.

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

/// The signal that something about a person's access changed.
pub fn access_signal(user_id: &str) -> String {
    format!("access:{user_id}")
}

/// A new event's position, with the event when it was recorded on this
/// node; or a signal (`seq` 0, no event).
#[derive(Debug, Clone)]
pub struct Notice {
    pub scope: String,
    pub seq: i64,
    pub row: Option<Arc<EventRow>>,
}

struct Subscriber {
    id: u64,
    queue: mpsc::Sender<Notice>,
}

#[derive(Default)]
struct Inner {
    /// The subscribers of each scope or signal.
    scopes: HashMap<String, Vec<Subscriber>>,
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Mutex<Inner>>,
    next_id: Arc<AtomicU64>,
    /// This node's name in the notifications it sends to the others, so
    /// that its listener can pass over its own (its hub had them first).
    node: Arc<str>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            inner: Arc::default(),
            next_id: Arc::default(),
            node: crate::store::new_id().into(),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// What a subscription woke up with.
#[derive(Debug, Default)]
pub struct Wake {
    /// New events, oldest first per scope.
    pub events: Vec<Arc<EventRow>>,
    /// Whether one of the subscription's signals was raised.
    pub signalled: bool,
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
        self.subscribe_signals(scopes, &[], from, queue, poll)
    }

    /// [`Hub::subscribe_with`] that also listens to `signals`.
    pub fn subscribe_signals(
        &self,
        scopes: &[String],
        signals: &[String],
        from: HashMap<String, i64>,
        queue: usize,
        poll: Duration,
    ) -> Subscription {
        let names: Vec<String> = scopes.iter().chain(signals).cloned().collect();
        let (id, rx) = self.register(&names, queue);
        Subscription {
            hub: self.clone(),
            id,
            scopes: scopes.to_vec(),
            signals: signals.to_vec(),
            queue_len: queue,
            poll,
            rx: Some(rx),
            positions: from,
            started: false,
        }
    }

    fn register(&self, names: &[String], queue: usize) -> (u64, mpsc::Receiver<Notice>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(queue.max(1));
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            inner
                .scopes
                .entry(name.clone())
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
        self.send(scope, seq, None);
    }

    /// Hands a committed event to the subscribers of its scope.
    pub fn publish_row(&self, row: Arc<EventRow>) {
        let (scope, seq) = (row.scope.clone(), row.seq);
        self.send(&scope, seq, Some(row));
    }

    /// Raises a signal (see [`access_signal`]).
    pub fn signal(&self, name: &str) {
        self.send(name, 0, None);
    }

    fn send(&self, scope: &str, seq: i64, row: Option<Arc<EventRow>>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = inner.scopes.get_mut(scope) else {
            return;
        };
        let mut dropped = Vec::new();
        for sub in subs.iter() {
            let notice = Notice {
                scope: scope.to_owned(),
                seq,
                row: row.clone(),
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

    /// Tells every subscriber to look at the store and every signal to go
    /// off (another node changed more than one notification could name).
    pub fn wake_all(&self) {
        let names: Vec<String> = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.scopes.keys().cloned().collect()
        };
        for name in names {
            if name.starts_with("access:") {
                self.signal(&name);
            } else {
                self.publish(&name, i64::MAX);
            }
        }
    }

    /// This node's name (see [`crate::store::cache::News`]).
    pub fn node(&self) -> &str {
        &self.node
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
    signals: Vec<String>,
    queue_len: usize,
    poll: Duration,
    /// `None` after the hub dropped this subscriber for being slow.
    rx: Option<mpsc::Receiver<Notice>>,
    /// The last event delivered, per scope.
    positions: HashMap<String, i64>,
    /// Whether the first look at the store was made.
    started: bool,
}

impl Subscription {
    /// Starts `scope` after event `seq` (a listener that read the log up to
    /// there by other means).
    pub fn set_position(&mut self, scope: &str, seq: i64) {
        self.positions.insert(scope.to_owned(), seq);
    }

    /// The last event delivered in `scope`.
    pub fn position(&self, scope: &str) -> Option<i64> {
        self.positions.get(scope).copied()
    }

    /// Waits for news and returns the events after this subscription's
    /// positions, oldest first per scope (at least one, unless a signal was
    /// raised or the store fails). Scopes without a position start at their
    /// current end.
    pub async fn next(&mut self, store: &Store) -> Result<Wake, sqlx::Error> {
        self.start_missing(store).await?;
        loop {
            let mut signalled = false;
            if self.rx.as_ref().is_none_or(|rx| rx.is_closed()) {
                // Dropped as too slow: listen again first, then read what
                // was missed from the store, so nothing falls in between.
                let names: Vec<String> = self.scopes.iter().chain(&self.signals).cloned().collect();
                let (id, rx) = self.hub.register(&names, self.queue_len);
                self.id = id;
                self.rx = Some(rx);
                self.started = false;
                // Signals raised while dropped were lost: say one was.
                signalled = !self.signals.is_empty();
            }
            if !self.started {
                // Whatever is stored after the positions comes first.
                self.started = true;
                let events = self.catch_up(store, None).await?;
                if !events.is_empty() || signalled {
                    return Ok(Wake { events, signalled });
                }
            }
            let rx = self.rx.as_mut().expect("listening");
            match tokio::time::timeout(self.poll, rx.recv()).await {
                Ok(Some(first)) => {
                    // Take every notice already waiting, then deliver.
                    let mut notices = vec![first];
                    while notices.len() < PAGE as usize {
                        match rx.try_recv() {
                            Ok(n) => notices.push(n),
                            Err(_) => break,
                        }
                    }
                    let wake = self.deliver(store, notices).await?;
                    if !wake.events.is_empty() || wake.signalled {
                        return Ok(wake);
                    }
                }
                // The hub dropped this subscriber; the loop listens again.
                Ok(None) => self.rx = None,
                Err(_) => {
                    // Nothing came for a while: look at the store.
                    let events = self.catch_up(store, None).await?;
                    if !events.is_empty() {
                        return Ok(Wake {
                            events,
                            signalled: false,
                        });
                    }
                }
            }
        }
    }

    /// The events the notices announce: straight from a notice that carries
    /// the next event of its scope, from the store for anything else (a
    /// notice from another node, or a gap).
    async fn deliver(&mut self, store: &Store, notices: Vec<Notice>) -> Result<Wake, sqlx::Error> {
        let mut wake = Wake::default();
        let mut from_store: Vec<String> = Vec::new();
        for notice in notices {
            if self.signals.contains(&notice.scope) {
                wake.signalled = true;
                continue;
            }
            let last = self.positions.get(&notice.scope).copied().unwrap_or(0);
            if notice.seq <= last || from_store.contains(&notice.scope) {
                continue; // delivered already, or read below
            }
            match notice.row {
                Some(row) if notice.seq == last + 1 => {
                    self.positions.insert(notice.scope, notice.seq);
                    wake.events.push(row);
                }
                _ => from_store.push(notice.scope),
            }
        }
        for scope in from_store {
            wake.events
                .extend(self.catch_up(store, Some(&scope)).await?);
        }
        Ok(wake)
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
    ) -> Result<Vec<Arc<EventRow>>, sqlx::Error> {
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
            found.extend(rows.into_iter().map(Arc::new));
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
            .events
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
            .events
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [4]);
    }
}
