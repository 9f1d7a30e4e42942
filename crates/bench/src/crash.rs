//! Crash durability: concurrent writers (sign-ups, profile edits, sign-ins)
//! run against the real server binary and record every write it
//! acknowledged (a 2xx answer); the server is killed with SIGKILL in the
//! middle of it, the database is checked for consistency, the server is
//! started again on the same data, and every acknowledged write must be there.
//!
//! `crates/cli/tests/crash.rs` runs a short version against the debug binary
//! in the test suite; `postroom-bench crash` runs a long one against the
//! release binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde_json::{json, Value};

use crate::server::{Database, PgDatabase, ServerProcess};

/// The password of every account the writers make: long enough and not
/// guessable, so the strength check passes.
pub const PASSWORD: &str = crate::seed::PASSWORD;

#[derive(Debug, Clone)]
pub struct Options {
    /// The `postroom` binary.
    pub binary: PathBuf,
    /// An administrative PostgreSQL URL; a fresh database is made from it
    /// (and dropped after). None: SQLite in a temporary data directory.
    pub postgres: Option<String>,
    /// How many times the server is killed and restarted.
    pub rounds: u32,
    /// How long the writers write before each kill.
    pub write_time: Duration,
    pub sign_up_writers: usize,
    pub sign_in_writers: usize,
    pub profile_writers: usize,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl Options {
    /// The version in the test suite: a few seconds of writes, one crash.
    pub fn short(binary: PathBuf, postgres: Option<String>) -> Options {
        Options {
            binary,
            postgres,
            rounds: 1,
            write_time: Duration::from_secs(3),
            sign_up_writers: 2,
            sign_in_writers: 2,
            profile_writers: 4,
            verbose: true,
        }
    }

    /// The bench's version: several crashes after longer bursts of writes.
    pub fn long(binary: PathBuf, postgres: Option<String>) -> Options {
        Options {
            rounds: 5,
            write_time: Duration::from_secs(10),
            sign_up_writers: 4,
            sign_in_writers: 4,
            profile_writers: 16,
            ..Options::short(binary, postgres)
        }
    }
}

/// What was written, acknowledged, and found again.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub rounds: u32,
    /// Acknowledged sign-ups (every one signed in again after the crashes).
    pub accounts: usize,
    /// Acknowledged sign-ins (every session token worked again).
    pub sessions: usize,
    /// Acknowledged profile edits (the last of each person's was there).
    pub profile_edits: u64,
    /// Writes that were in flight at a kill, unanswered (either outcome is right).
    pub unanswered: u64,
}

impl Report {
    pub fn acknowledged(&self) -> u64 {
        self.accounts as u64 + self.sessions as u64 + self.profile_edits
    }
}

#[derive(Default)]
struct Ledger {
    /// Usernames of acknowledged sign-ups.
    accounts: Vec<String>,
    /// (token, username) of acknowledged sign-ins.
    sessions: Vec<(String, String)>,
    /// Per profile writer's person: the last acknowledged display name, and
    /// the values sent after it that got no answer.
    profiles: HashMap<String, Profile>,
    profile_edits: u64,
    unanswered: u64,
    /// Anything but a 2xx or a dropped connection after the kill.
    problems: Vec<String>,
}

#[derive(Clone)]
struct Profile {
    token: String,
    acked: Option<String>,
    unanswered: Vec<String>,
}

struct Shared {
    ledger: Mutex<Ledger>,
    killed: AtomicBool,
    client: reqwest::Client,
}

impl Shared {
    fn problem(&self, what: String) {
        self.ledger.lock().unwrap().problems.push(what);
    }
}

fn log(opts: &Options, msg: &str) {
    if opts.verbose {
        eprintln!("crash: {msg}");
    }
}

/// Runs the whole scenario; fails if any acknowledged write is missing,
/// if the database is inconsistent, or if a writer got an unexpected answer.
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("postroom-crash-")
        .tempdir()
        .context("a temporary directory")?;
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let log_path = dir.path().join("server.log");
    let pg = match &opts.postgres {
        Some(admin) => Some(PgDatabase::create(admin, "postroom_crash").await?),
        None => None,
    };
    let database = match &pg {
        Some(pg) => Database::Postgres(pg.url.clone()),
        None => Database::Sqlite,
    };
    let result = scenario(opts, &data_dir, &database, &log_path).await;
    if result.is_err() {
        // Keep the evidence: the server's log goes with the error.
        let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(40).collect();
        eprintln!(
            "crash: the server's last log lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    if let Some(pg) = pg {
        pg.drop_now().await?;
    }
    result
}

async fn scenario(
    opts: &Options,
    data_dir: &Path,
    database: &Database,
    log_path: &Path,
) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut server = ServerProcess::postroom(&opts.binary, data_dir, database, log_path)?;
    log(opts, &format!("server up at {}", server.base));

    // The people whose profiles are edited, each with a session.
    let shared = Arc::new(Shared {
        ledger: Mutex::new(Ledger::default()),
        killed: AtomicBool::new(false),
        client,
    });
    for i in 0..opts.profile_writers {
        let username = format!("editor-{i}");
        sign_up(&shared.client, &server.base, &username)
            .await?
            .map_err(anyhow::Error::msg)?;
        let token = sign_in(&shared.client, &server.base, &username)
            .await?
            .map_err(anyhow::Error::msg)?;
        let mut ledger = shared.ledger.lock().unwrap();
        ledger.accounts.push(username.clone());
        ledger.sessions.push((token.clone(), username.clone()));
        ledger.profiles.insert(
            username,
            Profile {
                token,
                acked: None,
                unanswered: Vec::new(),
            },
        );
    }

    for round in 0..opts.rounds {
        shared.killed.store(false, Ordering::SeqCst);
        let mut writers = Vec::new();
        for w in 0..opts.sign_up_writers {
            writers.push(tokio::spawn(sign_up_writer(
                shared.clone(),
                server.base.clone(),
                round,
                w,
            )));
        }
        for w in 0..opts.sign_in_writers {
            writers.push(tokio::spawn(sign_in_writer(
                shared.clone(),
                server.base.clone(),
                w,
                opts.profile_writers,
            )));
        }
        for w in 0..opts.profile_writers {
            writers.push(tokio::spawn(profile_writer(
                shared.clone(),
                server.base.clone(),
                round,
                w,
            )));
        }
        tokio::time::sleep(opts.write_time).await;
        shared.killed.store(true, Ordering::SeqCst);
        server.kill()?;
        for w in writers {
            w.await.context("a writer panicked")?;
        }
        {
            let ledger = shared.ledger.lock().unwrap();
            log(
                opts,
                &format!(
                    "round {}: killed with SIGKILL; acknowledged so far: {} accounts, {} sessions, {} profile edits; {} unanswered",
                    round + 1,
                    ledger.accounts.len(),
                    ledger.sessions.len(),
                    ledger.profile_edits,
                    ledger.unanswered
                ),
            );
            if !ledger.problems.is_empty() {
                bail!(
                    "writers got unexpected answers before the kill:\n{}",
                    ledger.problems.join("\n")
                );
            }
        }
        check_consistency(data_dir, database)
            .await
            .with_context(|| format!("after kill {}", round + 1))?;
        server = ServerProcess::postroom(&opts.binary, data_dir, database, log_path)?;
        verify(&shared, &server.base)
            .await
            .with_context(|| format!("after restart {}", round + 1))?;
        log(
            opts,
            &format!(
                "round {}: restarted at {}; every acknowledged write is there",
                round + 1,
                server.base
            ),
        );
    }
    server.stop()?;
    check_consistency(data_dir, database)
        .await
        .context("after the last stop")?;
    let ledger = shared.ledger.lock().unwrap();
    Ok(Report {
        rounds: opts.rounds,
        accounts: ledger.accounts.len(),
        sessions: ledger.sessions.len(),
        profile_edits: ledger.profile_edits,
        unanswered: ledger.unanswered,
    })
}

async fn sign_up(
    client: &reqwest::Client,
    base: &str,
    username: &str,
) -> reqwest::Result<Result<(), String>> {
    let r = client
        .post(format!("{base}/api/v1/accounts"))
        .json(&json!({
            "email": format!("{username}@example.com"),
            "username": username,
            "password": PASSWORD,
            "accept_terms": true,
        }))
        .send()
        .await?;
    let status = r.status();
    if status.as_u16() == 201 {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "sign-up of {username}: {status} {}",
            r.text().await.unwrap_or_default()
        )))
    }
}

async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    login: &str,
) -> reqwest::Result<Result<String, String>> {
    let r = client
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({ "login": login, "password": PASSWORD, "keep_signed_in": true }))
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    if status.as_u16() != 201 {
        return Ok(Err(format!("sign-in of {login}: {status} {text}")));
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match body["token"].as_str() {
        Some(t) => Ok(Ok(t.to_owned())),
        None => Ok(Err(format!("sign-in of {login}: no token in {text}"))),
    }
}

async fn me(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Result<Value, String>> {
    let r = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    if status.as_u16() != 200 {
        return Ok(Err(format!("{status} {text}")));
    }
    Ok(Ok(serde_json::from_str(&text)?))
}

/// Handles a failed request: expected once the server is killed, a problem before.
fn lost(shared: &Shared, what: &str, err: impl std::fmt::Display) -> bool {
    if shared.killed.load(Ordering::SeqCst) {
        shared.ledger.lock().unwrap().unanswered += 1;
    } else {
        shared.problem(format!("{what}: {err}"));
    }
    true
}

async fn sign_up_writer(shared: Arc<Shared>, base: String, round: u32, w: usize) {
    for n in 0.. {
        if shared.killed.load(Ordering::SeqCst) {
            return;
        }
        let username = format!("u{w}-r{round}-n{n}");
        match sign_up(&shared.client, &base, &username).await {
            Ok(Ok(())) => shared.ledger.lock().unwrap().accounts.push(username),
            Ok(Err(e)) => {
                shared.problem(e);
                return;
            }
            Err(e) => {
                lost(&shared, "sign-up", e);
                return;
            }
        }
    }
}

async fn sign_in_writer(shared: Arc<Shared>, base: String, w: usize, people: usize) {
    if people == 0 {
        return;
    }
    for n in 0.. {
        if shared.killed.load(Ordering::SeqCst) {
            return;
        }
        let username = format!("editor-{}", (w + n) % people);
        match sign_in(&shared.client, &base, &username).await {
            Ok(Ok(token)) => shared
                .ledger
                .lock()
                .unwrap()
                .sessions
                .push((token, username)),
            Ok(Err(e)) => {
                shared.problem(e);
                return;
            }
            Err(e) => {
                lost(&shared, "sign-in", e);
                return;
            }
        }
    }
}

async fn profile_writer(shared: Arc<Shared>, base: String, round: u32, w: usize) {
    let username = format!("editor-{w}");
    let token = shared.ledger.lock().unwrap().profiles[&username]
        .token
        .clone();
    for n in 0.. {
        if shared.killed.load(Ordering::SeqCst) {
            return;
        }
        let value = format!("{username} r{round} n{n}");
        shared
            .ledger
            .lock()
            .unwrap()
            .profiles
            .get_mut(&username)
            .expect("registered")
            .unanswered
            .push(value.clone());
        let sent = shared
            .client
            .patch(format!("{base}/api/v1/me"))
            .bearer_auth(&token)
            .json(&json!({ "display_name": value, "bio": format!("bio of {value}") }))
            .send()
            .await;
        let r = match sent {
            Ok(r) => r,
            Err(e) => {
                lost(&shared, "profile edit", e);
                return;
            }
        };
        let status = r.status();
        let body = match r.text().await {
            Ok(b) => b,
            Err(e) => {
                lost(&shared, "profile edit", e);
                return;
            }
        };
        if status.as_u16() != 200 {
            shared.problem(format!("profile edit of {username}: {status} {body}"));
            return;
        }
        let echoed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if echoed["user"]["display_name"].as_str() != Some(value.as_str()) {
            shared.problem(format!(
                "profile edit of {username}: the answer shows {body}, not {value:?}"
            ));
            return;
        }
        let mut ledger = shared.ledger.lock().unwrap();
        ledger.profile_edits += 1;
        let p = ledger.profiles.get_mut(&username).expect("registered");
        p.acked = Some(value);
        p.unanswered.clear();
    }
}

/// Every acknowledged write is there after the restart.
async fn verify(shared: &Shared, base: &str) -> anyhow::Result<()> {
    let (accounts, sessions, profiles) = {
        let l = shared.ledger.lock().unwrap();
        (l.accounts.clone(), l.sessions.clone(), l.profiles.clone())
    };
    let client = &shared.client;
    // Sign-ins hash a password each: a few at once keep the hashing pool busy.
    for chunk in accounts.chunks(8) {
        let results = join_vec(chunk.iter().map(|u| sign_in(client, base, u)).collect()).await;
        for (username, r) in chunk.iter().zip(results) {
            match r? {
                Ok(_) => {}
                Err(e) => bail!("acknowledged account {username} is lost: {e}"),
            }
        }
    }
    for chunk in sessions.chunks(32) {
        let results = join_vec(chunk.iter().map(|(t, _)| me(client, base, t)).collect()).await;
        for ((_, username), r) in chunk.iter().zip(results) {
            match r? {
                Ok(body) => ensure!(
                    body["user"]["username"].as_str() == Some(username.as_str()),
                    "an acknowledged session of {username} now belongs to {}",
                    body["user"]["username"]
                ),
                Err(e) => bail!("an acknowledged session of {username} is lost: {e}"),
            }
        }
    }
    for (username, p) in &profiles {
        let body = match me(client, base, &p.token).await? {
            Ok(body) => body,
            Err(e) => bail!("the session of {username} is lost: {e}"),
        };
        let found = body["user"]["display_name"].as_str().map(str::to_owned);
        let allowed = found == p.acked || found.as_ref().is_some_and(|f| p.unanswered.contains(f));
        ensure!(
            allowed,
            "{username}'s display name is {found:?}; the last acknowledged was {:?} (unanswered after it: {:?})",
            p.acked,
            p.unanswered
        );
        if let Some(name) = &found {
            ensure!(
                body["user"]["bio"].as_str() == Some(format!("bio of {name}").as_str()),
                "{username}'s bio {} does not belong with display name {name:?}: a torn write",
                body["user"]["bio"]
            );
        }
    }
    Ok(())
}

/// Runs futures concurrently and collects their outputs in order.
async fn join_vec<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::pin::Pin;
    use std::task::Poll;
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// The database is consistent: SQLite's own integrity and foreign key
/// checks, and on both databases the invariants the code relies on.
pub async fn check_consistency(data_dir: &Path, database: &Database) -> anyhow::Result<()> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = match database {
        Database::Sqlite => format!(
            "sqlite://{}?mode=rw",
            data_dir.join("postroom.db").display()
        ),
        Database::Postgres(url) => url.clone(),
    };
    let mut c = sqlx::AnyConnection::connect(&url)
        .await
        .context("opening the database after the crash")?;
    if matches!(database, Database::Sqlite) {
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(&mut c)
            .await?;
        let report: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        ensure!(
            report == ["ok"],
            "PRAGMA integrity_check: {}",
            report.join("; ")
        );
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut c)
            .await?;
        ensure!(
            broken.is_empty(),
            "PRAGMA foreign_key_check: {} rows break a foreign key",
            broken.len()
        );
    }
    let invariants = [
        (
            "sessions of no user",
            "SELECT COUNT(*) FROM sessions WHERE user_id NOT IN (SELECT id FROM users)",
        ),
        (
            "event counters that disagree with their events",
            "SELECT COUNT(*) FROM scope_seqs s WHERE s.seq <> (SELECT COALESCE(MAX(e.seq), 0) FROM events e WHERE e.scope = s.scope)",
        ),
        (
            "events without a counter",
            "SELECT COUNT(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM scope_seqs s WHERE s.scope = e.scope)",
        ),
    ];
    for (what, sql) in invariants {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut c).await?;
        ensure!(n == 0, "{n} {what}");
    }
    c.close().await?;
    Ok(())
}
