//! The sync figures: one change fanned out to 1,000 sync sockets against a
//! bare WebSocket broadcast server, the memory an idle sync socket costs,
//! and catching up 10,000 missed changes through the change log.
//!
//! The WebSocket clients run in this process (tokio-tungstenite), the same
//! code against both servers: each socket waits for `synced`, then reads
//! every message and reports each change it hears with the moment it heard
//! it. See "Sync" in `docs/PERFORMANCE.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use futures_util::{stream, StreamExt, TryStreamExt};
use postroom_bench::seed;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::{mib, ms, Bench, Instance, Row, ServerProcess};

/// Sockets of one account that hear each change.
const FANOUT_SOCKETS: usize = 1_000;
/// Changes measured on each server, one at a time.
const FANOUT_ROUNDS: usize = 200;
/// Changes each server makes in a turn; the two take turns.
const FANOUT_TURN: usize = 10;
const FANOUT_WARM_UP: usize = 5;
/// The fan-out target: p99 at most this many times the baseline's.
const FANOUT_TARGET: f64 = 1.5;
/// How long every socket has to hear a change.
const HEAR_WITHIN: Duration = Duration::from_secs(10);
/// A breath between changes.
const BETWEEN_ROUNDS: Duration = Duration::from_millis(5);
const IDLE_SOCKETS: usize = 10_000;
const IDLE_TARGET_BYTES: f64 = 16.0 * 1024.0;
const CATCH_UP_CHANGES: usize = 10_000;
const CATCH_UP_LIMIT: usize = 1_000;
const CATCH_UP_RUNS: usize = 3;
const CATCH_UP_MAX_REQUESTS: usize = 10;
const CATCH_UP_MAX_TIME: Duration = Duration::from_secs(1);
/// Sockets being opened at a time.
const OPENING: usize = 64;
/// How long opening all the sockets may take.
const OPEN_WITHIN: Duration = Duration::from_secs(600);
/// Collections created at a time while filling the change log.
const WRITERS: usize = 8;
/// The clients' read buffer (tungstenite's default is 128 KiB, zeroed
/// before each read: 1.25 GiB in this process for 10,000 sockets, and
/// CPU taken from the server). The messages here are under 1 KiB, and a
/// longer one grows the buffer.
const CLIENT_READ_BUFFER: usize = 4 * 1024;
/// Changes are named after their round, so a socket can tell which it heard.
const ROUND_PREFIX: &str = "sync round ";

/// What a client socket reports.
enum Heard {
    /// The socket opened and said `synced`.
    Opened,
    /// A change of a round, when it was read, and the message's length.
    Change {
        round: u64,
        at: Instant,
        bytes: usize,
    },
    /// The socket failed to open, or closed.
    Ended(String),
}

fn round_name(round: u64) -> String {
    format!("{ROUND_PREFIX}{round:06}")
}

/// The round of a change message, if it is one. Read without a JSON
/// parser, so that the clients (on the same cores) take as little CPU from
/// the server as they can: both servers put `type` first.
fn round_of(text: &str) -> Option<u64> {
    if !text.starts_with(r#"{"type":"change","#) {
        return None;
    }
    let at = text.find(ROUND_PREFIX)? + ROUND_PREFIX.len();
    text.get(at..at + 6)?.parse().ok()
}

/// Opens a socket and reads until `synced` (what comes before is skipped).
async fn open(
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .context("no synced within 60 s")?
            .context("the socket closed before synced")??;
        match message {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(&text)?;
                if v["type"] == "synced" {
                    return Ok(socket);
                }
            }
            Message::Close(frame) => bail!("closed before synced: {frame:?}"),
            _ => {}
        }
    }
}

/// Many client sockets of one server; aborted when dropped.
struct Clients {
    count: usize,
    tasks: Vec<JoinHandle<()>>,
    heard: mpsc::UnboundedReceiver<Heard>,
}

impl Clients {
    /// Opens one socket per token (`None`: no credentials), [`OPENING`] at
    /// a time, and waits until every one said `synced`. Call inside the
    /// runtime.
    async fn open(url: &str, tokens: Vec<Option<String>>) -> anyhow::Result<(Clients, Duration)> {
        let started = Instant::now();
        let (tx, heard) = mpsc::unbounded_channel();
        let opening = Arc::new(Semaphore::new(OPENING));
        let count = tokens.len();
        let tasks = tokens
            .into_iter()
            .map(|token| {
                let (url, opening, tx) = (url.to_owned(), opening.clone(), tx.clone());
                tokio::spawn(async move {
                    let permit = opening.acquire_owned().await;
                    let mut socket = match open(&url, token.as_deref()).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tx.send(Heard::Ended(format!("opening: {e:#}")));
                            return;
                        }
                    };
                    drop(permit);
                    let _ = tx.send(Heard::Opened);
                    let end = loop {
                        match socket.next().await {
                            Some(Ok(Message::Text(text))) => {
                                let at = Instant::now();
                                if let Some(round) = round_of(&text) {
                                    let _ = tx.send(Heard::Change {
                                        round,
                                        at,
                                        bytes: text.len(),
                                    });
                                }
                            }
                            Some(Ok(Message::Close(frame))) => {
                                break format!("closed by the server: {frame:?}")
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break e.to_string(),
                            None => break "the connection ended".into(),
                        }
                    };
                    let _ = tx.send(Heard::Ended(end));
                })
            })
            .collect();
        let mut clients = Clients {
            count,
            tasks,
            heard,
        };
        let deadline = tokio::time::Instant::now() + OPEN_WITHIN;
        let mut opened = 0;
        while opened < count {
            match tokio::time::timeout_at(deadline, clients.heard.recv()).await {
                Ok(Some(Heard::Opened)) => opened += 1,
                Ok(Some(Heard::Ended(why))) => {
                    bail!("{opened} of {count} sockets open, then one failed: {why}")
                }
                Ok(Some(Heard::Change { .. })) => {}
                Ok(None) => bail!("every socket ended"),
                Err(_) => bail!(
                    "{opened} of {count} sockets open after {} s",
                    OPEN_WITHIN.as_secs()
                ),
            }
        }
        Ok((clients, started.elapsed()))
    }

    /// Waits until every socket heard the change of `round`; when the last
    /// one did, and the length of its message.
    async fn hear(&mut self, round: u64, deadline: Instant) -> anyhow::Result<(Instant, usize)> {
        let mut heard = 0;
        let mut last: Option<Instant> = None;
        let mut bytes = 0;
        while heard < self.count {
            match tokio::time::timeout_at(deadline.into(), self.heard.recv()).await {
                Ok(Some(Heard::Change {
                    round: r,
                    at,
                    bytes: b,
                })) if r == round => {
                    heard += 1;
                    last = Some(last.map_or(at, |l| l.max(at)));
                    bytes = b;
                }
                Ok(Some(Heard::Ended(why))) => bail!("a socket ended: {why}"),
                Ok(Some(_)) => {}
                Ok(None) => bail!("every socket ended"),
                Err(_) => bail!(
                    "only {heard} of {} sockets heard change {round} within {} s",
                    self.count,
                    HEAR_WITHIN.as_secs()
                ),
            }
        }
        Ok((last.expect("at least one socket"), bytes))
    }

    /// Why sockets ended since the last look (none should have).
    fn ended(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(h) = self.heard.try_recv() {
            if let Heard::Ended(why) = h {
                out.push(why);
            }
        }
        out
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Where a fan-out round's change is written.
enum Writer {
    /// `POST /api/v1/collections` as the account whose sockets listen.
    Postroom { url: String, token: String },
    /// `POST /broadcast` of the baseline, with a message of `bytes` bytes.
    Baseline { url: String, bytes: usize },
}

impl Writer {
    async fn write(&self, client: &reqwest::Client, round: u64) -> anyhow::Result<()> {
        match self {
            Writer::Postroom { url, token } => {
                let collection = json!({
                    "info": {"name": round_name(round),
                             "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                    "item": [{"name": "ping", "request": {"method": "GET", "url": {"raw": "https://example.com/ping"}}}],
                });
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "collection": collection }))
                    .send()
                    .await?;
                ensure!(
                    r.status().as_u16() == 201,
                    "POST /api/v1/collections: {} {}",
                    r.status(),
                    r.text().await?
                );
            }
            Writer::Baseline { url, bytes } => {
                let r = client
                    .post(url)
                    .body(baseline_message(round, *bytes))
                    .send()
                    .await?;
                ensure!(r.status().is_success(), "POST /broadcast: {}", r.status());
                let listening: usize = r.text().await?.parse()?;
                ensure!(
                    listening == FANOUT_SOCKETS,
                    "{listening} sockets listening, not {FANOUT_SOCKETS}"
                );
            }
        }
        Ok(())
    }
}

/// A change message shaped like the sync socket's, padded to `bytes`.
fn baseline_message(round: u64, bytes: usize) -> String {
    let mut m = json!({
        "type": "change",
        "change": {
            "type": "collection",
            "id": "019a0000-0000-7000-8000-000000000000",
            "op": "created",
            "revision": 1,
            "name": round_name(round),
            "team": null,
            "actor": {"id": "019a0000-0000-7000-8000-000000000001", "username": "fan"},
            "at": "2026-01-01T00:00:00.000Z",
        },
        "cursor": "",
    });
    let short = m.to_string().len();
    m["cursor"] = "c".repeat(bytes.saturating_sub(short)).into();
    m.to_string()
}

/// One change: from sending the write, its answer and the last socket
/// hearing it.
struct Sample {
    answered: Duration,
    last: Duration,
}

impl Sample {
    /// From the write's answer to the last socket, in ms; negative when
    /// every socket heard it before the answer arrived.
    fn after_answer_ms(&self) -> f64 {
        (self.last.as_secs_f64() - self.answered.as_secs_f64()) * 1000.0
    }

    fn after_send_ms(&self) -> f64 {
        self.last.as_secs_f64() * 1000.0
    }
}

async fn round(
    client: &reqwest::Client,
    writer: &Writer,
    clients: &mut Clients,
    round: u64,
) -> anyhow::Result<(Sample, usize)> {
    let sent = Instant::now();
    writer.write(client, round).await?;
    let answered = sent.elapsed();
    let (last, bytes) = clients.hear(round, sent + HEAR_WITHIN).await?;
    tokio::time::sleep(BETWEEN_ROUNDS).await;
    Ok((
        Sample {
            answered,
            last: last.saturating_duration_since(sent),
        },
        bytes,
    ))
}

/// The nearest-rank percentile `p` (0-100) of `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn ws_url(http: &str) -> String {
    http.replacen("http://", "ws://", 1)
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

impl Bench {
    /// The three sync figures, each in its own servers.
    pub(super) fn sync(&mut self) -> anyhow::Result<()> {
        let mut failed = Vec::new();
        let figures: [(&str, super::Step); 3] = [
            ("fan-out", Bench::fanout),
            ("sockets", Bench::idle_sockets),
            ("catch-up", Bench::catch_up),
        ];
        for (name, figure) in figures {
            if let Err(e) = figure(self) {
                eprintln!("error in sync {name}: {e:#}");
                failed.push(name);
            }
        }
        ensure!(failed.is_empty(), "could not measure {}", failed.join(", "));
        Ok(())
    }

    fn check_open_files(&self, sockets: usize) -> anyhow::Result<()> {
        ensure!(
            self.open_files >= (sockets + 1_000) as libc::rlim_t,
            "{sockets} sockets need more open files than the limit of {} (raise the hard limit, `ulimit -Hn`)",
            self.open_files
        );
        Ok(())
    }

    fn user_id(&self, pr: &Instance, token: &str) -> anyhow::Result<String> {
        self.rt.block_on(async {
            let r = self
                .client
                .get(pr.url("/api/v1/me"))
                .bearer_auth(token)
                .send()
                .await?;
            ensure!(r.status().as_u16() == 200, "GET /api/v1/me: {}", r.status());
            let v: Value = r.json().await?;
            Ok(v["user"]["id"].as_str().context("a user id")?.to_owned())
        })
    }

    /// One change to 1,000 sockets of one account (1,000 sessions), from
    /// the write's answer to the last socket hearing it; against a bare
    /// broadcast server with the same clients, the two taking turns.
    fn fanout(&mut self) -> anyhow::Result<()> {
        eprintln!(
            "sync fan-out: one change to {FANOUT_SOCKETS} sockets, {FANOUT_ROUNDS} changes on each server in turns of {FANOUT_TURN}"
        );
        self.check_open_files(2 * FANOUT_SOCKETS)?;
        let pr = self.start("fanout")?;
        let token = self.account(&pr, "fan")?;
        let user_id = self.user_id(&pr, &token)?;
        let mut tokens = vec![Some(token.clone())];
        let more = self.rt.block_on(seed::sessions(
            &pr.database_url(),
            &user_id,
            FANOUT_SOCKETS - 1,
        ))?;
        tokens.extend(more.into_iter().map(Some));
        let base = ServerProcess::broadcast(
            &self.broadcast,
            &self.dir.path().join("broadcast-fanout.log"),
        )?;
        let client = self.client.clone();
        let (ours, theirs, bytes) = self.rt.block_on(async {
            let (mut base_clients, took) = Clients::open(
                &format!("{}/ws", ws_url(&base.base)),
                vec![None; FANOUT_SOCKETS],
            )
            .await?;
            eprintln!(
                "sync fan-out: {FANOUT_SOCKETS} baseline sockets open in {:.1} s",
                took.as_secs_f64()
            );
            let (mut pr_clients, took) =
                Clients::open(&ws_url(&pr.url("/api/v1/sync")), tokens).await?;
            eprintln!(
                "sync fan-out: {FANOUT_SOCKETS} postroom sockets open in {:.1} s",
                took.as_secs_f64()
            );
            let ours_writer = Writer::Postroom {
                url: pr.url("/api/v1/collections"),
                token,
            };
            let mut n = 0;
            let mut bytes = 0;
            // The warm-up also gives the size of the server's messages.
            for _ in 0..FANOUT_WARM_UP {
                n += 1;
                bytes = round(&client, &ours_writer, &mut pr_clients, n).await?.1;
            }
            let base_writer = Writer::Baseline {
                url: format!("{}/broadcast", base.base),
                bytes,
            };
            for _ in 0..FANOUT_WARM_UP {
                n += 1;
                round(&client, &base_writer, &mut base_clients, n).await?;
            }
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for _ in 0..FANOUT_ROUNDS / FANOUT_TURN {
                for _ in 0..FANOUT_TURN {
                    n += 1;
                    theirs.push(round(&client, &base_writer, &mut base_clients, n).await?.0);
                }
                for _ in 0..FANOUT_TURN {
                    n += 1;
                    ours.push(round(&client, &ours_writer, &mut pr_clients, n).await?.0);
                }
            }
            let ended: Vec<String> = pr_clients
                .ended()
                .into_iter()
                .chain(base_clients.ended())
                .collect();
            ensure!(
                ended.is_empty(),
                "sockets ended during the rounds: {ended:?}"
            );
            anyhow::Ok((ours, theirs, bytes))
        })?;
        drop(pr);
        drop(base);
        let stats = |s: &[Sample]| {
            let answer: Vec<f64> = s.iter().map(Sample::after_answer_ms).collect();
            let send: Vec<f64> = s.iter().map(Sample::after_send_ms).collect();
            let write: Vec<f64> = s
                .iter()
                .map(|s| s.answered.as_secs_f64() * 1000.0)
                .collect();
            (
                percentile(&answer, 50.0),
                percentile(&answer, 99.0),
                percentile(&send, 99.0),
                percentile(&write, 50.0),
            )
        };
        let (o50, o99, osend, owrite) = stats(&ours);
        let (b50, b99, bsend, bwrite) = stats(&theirs);
        let ratio = o99 / b99;
        self.rows.push(Row {
            figure: "fan-out",
            value: format!(
                "p99 {o99:.2} ms (p50 {o50:.2} ms) from a write's answer to the last of {FANOUT_SOCKETS} sockets of one account, {FANOUT_ROUNDS} changes; from sending it p99 {osend:.2} ms (write p50 {owrite:.2} ms); {bytes} B messages"
            ),
            baseline: format!(
                "p99 {b99:.2} ms (p50 {b50:.2} ms), bare axum WebSocket + tokio broadcast, same clients, turns of {FANOUT_TURN}; from sending p99 {bsend:.2} ms (POST p50 {bwrite:.2} ms)"
            ),
            ratio: Some(ratio),
            target: format!("<= {FANOUT_TARGET}"),
            pass: ratio <= FANOUT_TARGET,
        });
        Ok(())
    }

    /// Server RSS per idle socket: 10,000 sockets of 10,000 accounts whose
    /// sessions were used once before; the bare broadcast server with the
    /// same clients as the baseline.
    fn idle_sockets(&mut self) -> anyhow::Result<()> {
        eprintln!("sync sockets: RSS per socket with {IDLE_SOCKETS} idle sockets");
        self.check_open_files(IDLE_SOCKETS)?;
        let url_of = |base: &str| format!("{}/ws", ws_url(base));
        let base = ServerProcess::broadcast(
            &self.broadcast,
            &self.dir.path().join("broadcast-sockets.log"),
        )?;
        std::thread::sleep(Duration::from_secs(1));
        let base_before = base.rss_kib()?;
        let base_after = self.rt.block_on(async {
            let (mut clients, _) =
                Clients::open(&url_of(&base.base), vec![None; IDLE_SOCKETS]).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after = base.rss_kib()?;
            let ended = clients.ended();
            ensure!(
                ended.is_empty(),
                "baseline sockets ended: {:?}",
                &ended[..ended.len().min(5)]
            );
            anyhow::Ok(after)
        })?;
        drop(base);
        let base_per = (base_after.saturating_sub(base_before) * 1024) as f64 / IDLE_SOCKETS as f64;

        let pr = self.start("sockets")?;
        let seeded = self
            .rt
            .block_on(seed::seed(&pr.database_url(), "socket", IDLE_SOCKETS))?;
        // Each session used once first, so the figure is the sockets' and
        // not the sessions' (the memory figure measures those).
        let tokens: Vec<String> = seeded.into_iter().map(|s| s.token).collect();
        self.use_every_token(&pr, &tokens)?;
        std::thread::sleep(Duration::from_millis(500));
        let before = pr.server.rss_kib()?;
        let url = ws_url(&pr.url("/api/v1/sync"));
        let (took, open, steady) = self.rt.block_on(async {
            let (mut clients, took) =
                Clients::open(&url, tokens.into_iter().map(Some).collect()).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let open = pr.server.rss_kib()?;
            // Every socket looks at its credentials with each heartbeat (15 s).
            tokio::time::sleep(Duration::from_secs(16)).await;
            let steady = pr.server.rss_kib()?;
            let ended = clients.ended();
            ensure!(
                ended.is_empty(),
                "{} sockets ended: {:?}",
                ended.len(),
                &ended[..ended.len().min(5)]
            );
            anyhow::Ok((took, open, steady))
        })?;
        drop(pr);
        let after = open.max(steady);
        let per = (after.saturating_sub(before) * 1024) as f64 / IDLE_SOCKETS as f64;
        self.rows.push(Row {
            figure: "sockets",
            value: format!(
                "{} per idle sync socket: RSS {} before, {} with {IDLE_SOCKETS} sockets open (opened in {:.0} s), {} after a heartbeat",
                kib(per),
                mib(before),
                mib(open),
                took.as_secs_f64(),
                mib(steady)
            ),
            baseline: format!(
                "{} per socket, bare axum WebSocket + tokio broadcast (RSS {} to {})",
                kib(base_per),
                mib(base_before),
                mib(base_after)
            ),
            ratio: Some(per / base_per.max(1.0)),
            target: format!("<= {}", kib(IDLE_TARGET_BYTES)),
            pass: per <= IDLE_TARGET_BYTES,
        });
        Ok(())
    }

    /// 10,000 changes missed, read through `GET /api/v1/changes` from a
    /// cursor taken before them: requests and wall time.
    fn catch_up(&mut self) -> anyhow::Result<()> {
        eprintln!("sync catch-up: {CATCH_UP_CHANGES} missed changes through GET /api/v1/changes?limit={CATCH_UP_LIMIT}");
        let pr = self.start("catch-up")?;
        let token = self.account(&pr, "catcher")?;
        let client = self.client.clone();
        let changes_url = pr.url("/api/v1/changes");
        let get = |since: Option<String>| {
            let (client, url, token) = (&client, &changes_url, &token);
            async move {
                // A cursor is URL-safe as it is.
                let url = match since {
                    Some(since) => format!("{url}?limit={CATCH_UP_LIMIT}&since={since}"),
                    None => format!("{url}?limit={CATCH_UP_LIMIT}"),
                };
                let r = client.get(url).bearer_auth(token).send().await?;
                ensure!(
                    r.status().as_u16() == 200,
                    "GET /api/v1/changes: {}",
                    r.status()
                );
                let body = r.bytes().await?;
                let page: Value = serde_json::from_slice(&body)?;
                let changes = page["changes"].as_array().context("changes")?.len();
                let cursor = page["cursor"].as_str().context("a cursor")?.to_owned();
                anyhow::Ok((changes, cursor, page["more"] == true, body.len()))
            }
        };
        let runs = self.rt.block_on(async {
            let (_, cursor, more, _) = get(None).await?;
            ensure!(!more, "a new account has changes waiting");
            let started = Instant::now();
            let create_url = pr.url("/api/v1/collections");
            stream::iter(0..CATCH_UP_CHANGES)
                .map(|n| {
                    let (client, url, token) = (&client, &create_url, &token);
                    async move {
                        let collection = json!({
                            "info": {"name": format!("missed {n}"),
                                     "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                            "item": [{"name": "ping", "request": {"method": "GET", "url": {"raw": "https://example.com/ping"}}}],
                        });
                        let r = client
                            .post(url)
                            .bearer_auth(token)
                            .json(&json!({ "collection": collection }))
                            .send()
                            .await?;
                        ensure!(r.status().as_u16() == 201, "POST /api/v1/collections: {}", r.status());
                        anyhow::Ok(())
                    }
                })
                .buffer_unordered(WRITERS)
                .try_collect::<Vec<()>>()
                .await?;
            eprintln!(
                "sync catch-up: {CATCH_UP_CHANGES} collections created in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let mut runs = Vec::new();
            for _ in 0..CATCH_UP_RUNS {
                let started = Instant::now();
                let (mut requests, mut changes, mut bytes) = (0, 0, 0);
                let mut since = cursor.clone();
                loop {
                    let (n, next, more, b) = get(Some(since)).await?;
                    requests += 1;
                    changes += n;
                    bytes += b;
                    since = next;
                    if !more {
                        break;
                    }
                    ensure!(requests < 100, "still more after 100 pages");
                }
                let took = started.elapsed();
                ensure!(
                    changes == CATCH_UP_CHANGES,
                    "{changes} changes read, {CATCH_UP_CHANGES} made"
                );
                runs.push((took, requests, bytes));
            }
            anyhow::Ok(runs)
        })?;
        drop(pr);
        let worst = runs.iter().map(|r| r.0).max().unwrap_or_default();
        let requests = runs.iter().map(|r| r.1).max().unwrap_or_default();
        let bytes = runs[0].2;
        let each: Vec<String> = runs.iter().map(|r| ms(r.0.as_micros() as u64)).collect();
        self.rows.push(Row {
            figure: "catch-up",
            value: format!(
                "{requests} requests, {CATCH_UP_CHANGES} changes ({:.1} MB) in {} wall time, the slowest of {CATCH_UP_RUNS} runs ({})",
                bytes as f64 / 1_048_576.0,
                ms(worst.as_micros() as u64),
                each.join(", ")
            ),
            baseline: "-".into(),
            ratio: None,
            target: format!(
                "<= {CATCH_UP_MAX_REQUESTS} requests, <= {} s",
                CATCH_UP_MAX_TIME.as_secs()
            ),
            pass: requests <= CATCH_UP_MAX_REQUESTS && worst <= CATCH_UP_MAX_TIME,
        });
        Ok(())
    }
}
