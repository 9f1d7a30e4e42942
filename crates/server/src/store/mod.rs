//! All SQL lives here. One set of statements serves SQLite and PostgreSQL
//! through sqlx's `Any` driver (see `migrations/README.md` for the shared
//! conventions); only the migrations differ per backend. Every function
//! that writes (or takes a row lock) takes a `&mut` [`Tx`], so the compiler
//! holds every write to a transaction from [`Store::begin`] or
//! [`Store::begin_relaxed`]. Reads take a `&mut AnyConnection`, so callers
//! decide whether they run inside a transaction (a `Tx` derefs to one) or
//! not ([`Store::conn`]).

/// A statement assembled from a module's constant column lists, for sqlx's
/// `query` functions, which take only `&'static str` unless told the string
/// is safe. Only constants are formatted in, never a value: values are bound.
macro_rules! sql {
    ($($format:tt)*) => {
        sqlx::AssertSqlSafe(format!($($format)*))
    };
}

pub mod api_keys;
pub mod avatars;
pub mod billing;
pub mod cache;
pub mod events;
pub mod items;
pub mod limits;
pub mod mail;
pub mod oauth;
pub mod oidc;
pub mod operator;
pub mod passkeys;
pub mod sessions;
pub mod support;
pub mod sync;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod users;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use sqlx::AnyConnection as Conn;

use crate::hub::Hub;

mod create_db;
mod migrate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time, and a writer that finds the lock
    /// taken polls for it with sleeps (`busy_timeout`): under a steady stream
    /// of writes an unlucky one kept missing it for 5 s and failed with a
    /// 500. Writers on SQLite therefore queue here first, in arrival order.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// SQLite only: one connection with `synchronous = NORMAL`, for
    /// [`Store::begin_relaxed`].
    relaxed: Option<AnyPool>,
    /// Live sessions and accounts, dropped when a [`Tx`] that changed them
    /// commits (here, and on PostgreSQL on every node).
    cache: Arc<cache::Cache>,
    /// Told of every event a committed transaction recorded (and, on
    /// PostgreSQL, of other nodes' events by the listener).
    hub: Hub,
    /// Wakes the mail worker after a commit that queued mail.
    mail_queued: Arc<tokio::sync::Notify>,
    url: Arc<str>,
}

/// How long a writer waits for its turn before giving up.
const WRITER_WAIT: Duration = Duration::from_secs(30);

/// A transaction (it derefs to the connection, for the store's reading
/// functions). On SQLite it holds the writer's turn until it ends. Every
/// write takes a `Tx`: the store's writing functions accept nothing else, so
/// no write can skip the writer's queue on a plain pooled connection.
pub struct Tx {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
    cache: Arc<cache::Cache>,
    hub: Hub,
    mail_queued: Arc<tokio::sync::Notify>,
    /// What the commit must make known: the accounts whose row or sessions
    /// changed, the events recorded, whether mail was queued.
    effects: Effects,
}

/// What a transaction's commit makes known, here and on other nodes. The
/// store's writing functions note it as they go ([`Tx::changed`],
/// [`Tx::recorded`], [`Tx::mail_queued`]); nothing else needs to.
#[derive(Debug, Default)]
struct Effects {
    changed: Vec<String>,
    recorded: Vec<std::sync::Arc<events::EventRow>>,
    mail: bool,
}

impl Tx {
    fn new(
        tx: Transaction<'static, Any>,
        turn: Option<tokio::sync::OwnedMutexGuard<()>>,
        store: &Store,
    ) -> Tx {
        Tx {
            tx,
            _turn: turn,
            backend: store.backend,
            cache: store.cache.clone(),
            hub: store.hub.clone(),
            mail_queued: store.mail_queued.clone(),
            effects: Effects::default(),
        }
    }

    /// The database this transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Records that this transaction changes an account or its sessions, so
    /// that the commit drops them from every node's cache.
    pub fn changed(&mut self, user_id: &str) {
        if !self.effects.changed.iter().any(|id| id == user_id) {
            self.effects.changed.push(user_id.to_owned());
        }
    }

    /// Records that this transaction appended an event, so that the
    /// commit hands it to this node's hub and tells the other nodes'.
    pub fn recorded(&mut self, row: &events::EventRow) {
        self.effects.recorded.push(std::sync::Arc::new(row.clone()));
    }

    /// Records that this transaction queued mail, so that the commit wakes
    /// the mail worker.
    pub fn mail_queued(&mut self) {
        self.effects.mail = true;
    }

    /// Drops the news of the events recorded so far, as if it were lost on
    /// its way to the hub (for tests of the catch-up).
    #[cfg(test)]
    pub(crate) fn forget_events(&mut self) {
        self.effects.recorded.clear();
    }

    /// Commits, then makes known what the transaction did: drops changed
    /// accounts from the cache, publishes recorded events to the hub and
    /// wakes the mail worker. On PostgreSQL the same news reaches the other
    /// nodes through a notification sent with the commit (delivered when,
    /// and only if, it succeeds).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let effects = std::mem::take(&mut self.effects);
        if self.backend == Backend::Postgres
            && (!effects.changed.is_empty() || !effects.recorded.is_empty())
        {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(cache::CHANNEL)
                .bind(news(&effects, self.hub.node()).payload())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        self.cache
            .changed(effects.changed.iter().map(String::as_str));
        for user_id in &effects.changed {
            self.hub.signal(&crate::hub::access_signal(user_id));
        }
        for row in effects.recorded {
            self.hub.publish_row(row);
        }
        if effects.mail {
            self.mail_queued.notify_one();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// What a commit tells the other nodes, signed with this node's name.
fn news(effects: &Effects, node: &str) -> cache::News {
    let mut news = cache::News::new(&effects.changed, &positions(&effects.recorded));
    news.node = Some(node.to_owned());
    news
}

fn positions(rows: &[std::sync::Arc<events::EventRow>]) -> Vec<(String, i64)> {
    rows.iter().map(|r| (r.scope.clone(), r.seq)).collect()
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

impl Store {
    /// Connects, applies SQLite pragmas, and runs pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        use anyhow::Context;
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        if backend == Backend::Postgres {
            create_db::create_if_missing(url).await?;
        }
        let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        if let Some((path, true)) = sqlite_file(url) {
            // Created here, for this user only, rather than by SQLite with
            // the usual 0644; its -wal and -shm files take the same mode.
            crate::files::ensure_private_file(&path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // A SQLite connection is a file handle in this process: it cannot
            // go stale, and pinging it before every use cost a round trip to
            // its worker thread per query (half of a read's database time).
            pool_options = pool_options.test_before_acquire(false);
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL syncs the
                    // log at every commit, so an acknowledged write survives
                    // power loss too; a writer waits up to 5 s for the lock.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options.clone())
            .await
            .context("connecting to the database")?;
        let relaxed = (backend == Backend::Sqlite).then(|| {
            AnyPoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        Ok(())
                    })
                })
                .connect_lazy_with(options.clone())
        });
        let store = Store {
            pool,
            backend,
            writer: Arc::default(),
            relaxed,
            // On PostgreSQL the cache stays off until `listen_for_changes`
            // hears other nodes.
            cache: Arc::new(cache::Cache::new(backend == Backend::Sqlite)),
            hub: Hub::default(),
            mail_queued: Arc::default(),
            url: url.into(),
        };
        migrate::run(&store)
            .await
            .context("running database migrations")?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn cache(&self) -> &cache::Cache {
        &self.cache
    }

    /// Where committed events are announced; live listeners subscribe here.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Notified after each commit that queued mail.
    pub fn mail_queued(&self) -> Arc<tokio::sync::Notify> {
        self.mail_queued.clone()
    }

    pub async fn conn(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Starts a transaction. On SQLite it waits for the writer's turn, then
    /// takes the write lock at once (`BEGIN IMMEDIATE`), so a transaction
    /// that reads before it writes waits for other writers instead of
    /// failing when it upgrades. Every write goes through a transaction,
    /// even a single statement, to wait its turn in order on SQLite; the
    /// store's writing functions take a [`Tx`], so the compiler enforces it.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx::new(tx, Some(turn), self))
            }
            Backend::Postgres => Ok(Tx::new(self.pool.begin().await?, None, self)),
        }
    }

    /// A transaction for bookkeeping that harms no one if a power failure
    /// loses it (session activity), whose commit does not wait for the disk:
    /// with `synchronous = FULL` every SQLite commit costs an fsync, and one
    /// per session every 15 s made reads wait on the disk. On SQLite it runs
    /// on a connection with `synchronous = NORMAL` (its WAL frames are synced
    /// by the next ordinary commit or checkpoint), on PostgreSQL with
    /// `synchronous_commit = off`. If Postroom itself crashes, nothing is lost.
    pub async fn begin_relaxed(&self) -> Result<Tx, sqlx::Error> {
        match &self.relaxed {
            Some(pool) => {
                let turn = tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?;
                let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx::new(tx, Some(turn), self))
            }
            None => {
                let mut tx = self.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ())
    }

    /// The newest migration applied to the database (`None`: none is), and
    /// the newest this binary has: the readiness check wants them equal.
    pub async fn schema_versions(&self) -> Result<(Option<i64>, i64), sqlx::Error> {
        let mut c = self.conn().await?;
        let (applied,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut *c)
                .await?;
        Ok((applied, migrate::latest(self.backend)))
    }

    /// Writes a consistent copy of the SQLite database to `path`, a new
    /// file, while the server may keep running (`VACUUM INTO`). SQLite only:
    /// PostgreSQL has its own tools, and refuses the statement. The file is
    /// created empty first, for this user only (SQLite writes into an empty
    /// file), and removed again if the copy fails.
    pub async fn backup_into(&self, path: &str) -> Result<(), sqlx::Error> {
        let mut c = self.conn().await?;
        crate::files::create_private_file(std::path::Path::new(path))?;
        let done = sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&mut *c)
            .await
            .map(|_| ());
        if done.is_err() {
            let _ = std::fs::remove_file(path);
        }
        done
    }

    pub async fn close(&self) {
        if let Some(relaxed) = &self.relaxed {
            relaxed.close().await;
        }
        self.pool.close().await
    }
}

/// What a SQLite file holds, as `postroom restore` checks it before putting
/// it in place.
#[derive(Debug, Clone)]
pub struct SqliteFile {
    /// The last migration applied to it.
    pub schema_version: i64,
    /// The schema version this binary would bring it to.
    pub binary_version: i64,
    pub accounts: i64,
    pub teams: i64,
    pub items: i64,
}

/// Opens `path` read-only and checks that it is a whole Postroom database:
/// SQLite's `integrity_check` and `foreign_key_check` pass, and it has
/// Postroom's migrations, none newer than this binary's.
pub async fn inspect_sqlite(path: &std::path::Path) -> anyhow::Result<SqliteFile> {
    use anyhow::{bail, Context};
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut c = sqlx::AnyConnection::connect(&url)
        .await
        .with_context(|| format!("{} does not open as a SQLite database", path.display()))?;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    if integrity != "ok" {
        bail!(
            "{} is damaged: SQLite's integrity check says {integrity}",
            path.display()
        );
    }
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut c)
        .await?;
    if let Some((table,)) = broken.first() {
        bail!(
            "{} is damaged: rows of {table} point to rows that are not there",
            path.display()
        );
    }
    let version: Option<(i64,)> =
        sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_optional(&mut c)
            .await
            .ok()
            .flatten();
    let Some((schema_version,)) = version else {
        bail!(
            "{} is a SQLite database, but not a Postroom one",
            path.display()
        );
    };
    let binary_version = migrate::latest_sqlite();
    if schema_version > binary_version {
        bail!(
            "{} comes from a newer Postroom (schema {schema_version}; this one knows up to {binary_version}): restore it with that version",
            path.display()
        );
    }
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = Vec::new();
    for table in ["users", "teams", "items"] {
        let n: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(count(table)))
            .fetch_optional(&mut c)
            .await
            .ok()
            .flatten();
        counts.push(n.map_or(0, |n| n.0));
    }
    let _ = c.close().await;
    Ok(SqliteFile {
        schema_version,
        binary_version,
        accounts: counts[0],
        teams: counts[1],
        items: counts[2],
    })
}

/// The file of a SQLite database URL, and whether opening it may create it
/// (`mode=rwc`); `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<(std::path::PathBuf, bool)> {
    let rest = url.strip_prefix("sqlite:")?;
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let mode = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "mode")
        .map(|(_, value)| value.into_owned());
    if rest.starts_with(":memory:") || mode.as_deref() == Some("memory") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some((
        options.get_filename().to_path_buf(),
        mode.as_deref() == Some("rwc"),
    ))
}

/// True when `err` broke the unique constraint named `constraint`
/// (`<table>_<column>`), on either backend.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    if !db.is_unique_violation() {
        return false;
    }
    if db.constraint() == Some(constraint) {
        return true;
    }
    // SQLite names the columns instead: "UNIQUE constraint failed: users.username_key",
    // or "events.scope, events.seq"; rebuild `<table>_<columns>` from that
    // (table names may hold underscores too, as in `api_keys_key_hash`).
    let Some(columns) = db.message().strip_prefix("UNIQUE constraint failed: ") else {
        return false;
    };
    let mut name = String::new();
    for (i, column) in columns.split(", ").enumerate() {
        let Some((table, column)) = column.split_once('.') else {
            return false;
        };
        if i == 0 {
            name.push_str(table);
        }
        name.push('_');
        name.push_str(column);
    }
    name == constraint
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
