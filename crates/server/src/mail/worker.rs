//! Sends queued mail. Runs in the background on every node; claims due mails
//! with a lease, sends them, and on failure retries with exponential backoff
//! (30 s, 1 min, 2 min, ... capped at 1 h). A slow or failing SMTP server
//! delays mail but never a request, and loses none.
//!
//! It keeps a [`Heartbeat`] in the shared state, beating on every round and
//! before every mail, so the readiness check (`/healthz/ready`) can tell a
//! worker that stopped or hangs from one that waits for work.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::clock::{HOUR, MINUTE, SECOND};
use crate::state::App;
use crate::store;

const LEASE: i64 = 2 * MINUTE;
const BATCH: i64 = 20;
const POLL: Duration = Duration::from_secs(2);

/// A worker that has not beaten for this long is taken for hung: sixty of
/// its rounds, and six times the time one SMTP exchange may take.
pub const STALLED_AFTER: Duration = Duration::from_secs(120);

/// The mail worker's signs of life. Measured on the monotonic clock, not the
/// [`crate::clock::Clock`]: it is about this process's real time, and a test
/// that moves its clock a month has not hung the worker.
#[derive(Clone, Default)]
pub struct Heartbeat(Arc<Mutex<Pulse>>);

/// The last sign of life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pulse {
    /// The server has not started it.
    #[default]
    NotStarted,
    /// It was running then.
    Beat(Instant),
    /// It returned (shutdown, or it could not start) or panicked.
    Stopped,
}

/// What the readiness check says of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    pub alive: bool,
    /// `running`, `stalled`, `stopped` or `not_started`.
    pub state: &'static str,
    /// Since its last beat, when it has beaten.
    pub since_beat: Option<Duration>,
}

impl Pulse {
    pub fn liveness(self, now: Instant) -> Liveness {
        match self {
            Pulse::NotStarted => Liveness {
                alive: false,
                state: "not_started",
                since_beat: None,
            },
            Pulse::Stopped => Liveness {
                alive: false,
                state: "stopped",
                since_beat: None,
            },
            Pulse::Beat(at) => {
                let since = now.saturating_duration_since(at);
                let alive = since <= STALLED_AFTER;
                Liveness {
                    alive,
                    state: if alive { "running" } else { "stalled" },
                    since_beat: Some(since),
                }
            }
        }
    }
}

impl Heartbeat {
    /// The worker is alive now.
    pub fn beat(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Pulse::Beat(Instant::now());
    }

    pub fn pulse(&self) -> Pulse {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stop(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Pulse::Stopped;
    }
}

/// Marks the worker stopped however its task ends: returning, or unwinding
/// from a panic.
struct StopsHeartbeat(Heartbeat);

impl Drop for StopsHeartbeat {
    fn drop(&mut self) {
        self.0.stop();
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Transport {
    fn from_app(app: &App) -> anyhow::Result<Transport> {
        match &app.settings.smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("smtp_url")?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            )),
            None => {
                let dir = app.settings.data_dir.join("outbox");
                crate::files::create_private_dir(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                Ok(Transport::Outbox(dir))
            }
        }
    }

    async fn send(&self, message: Message, mail: &store::mail::QueuedMail) -> anyhow::Result<()> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.context("smtp")?;
            }
            Transport::Outbox(dir) => {
                // The complete message, for mail clients, and its plain text
                // part as is, for people and scripts.
                let id = &mail.id;
                let readable = format!(
                    "To: {}\nSubject: {}\n\n{}\n",
                    mail.to_addr, mail.subject, mail.text_body
                );
                write_atomically(&dir.join(format!("{id}.txt")), readable.as_bytes()).await?;
                let path = dir.join(format!("{id}.eml"));
                write_atomically(&path, &message.formatted()).await?;
                let links: Vec<&str> = mail
                    .text_body
                    .split_whitespace()
                    .filter(|w| w.starts_with("http"))
                    .collect();
                tracing::info!(file = %path.display(), links = ?links, "mail written to the outbox");
            }
        }
        Ok(())
    }
}

/// Writes a file readable by this user only (mails hold live links), whole
/// or not at all.
async fn write_atomically(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let contents = contents.to_vec();
    let written = tmp.clone();
    tokio::task::spawn_blocking(move || {
        // A file left over from a crash may have other permissions.
        let _ = std::fs::remove_file(&written);
        let mut file = crate::files::create_private_file(&written)?;
        std::io::Write::write_all(&mut file, &contents)
    })
    .await?
    .with_context(|| format!("writing {}", tmp.display()))?;
    tokio::fs::rename(&tmp, path)
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn build(from: &Mailbox, m: &store::mail::QueuedMail) -> anyhow::Result<Message> {
    let to: Mailbox = m.to_addr.parse().context("recipient address")?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&m.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(m.text_body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(m.html_body.clone()),
                ),
        )?)
}

/// Runs until `shutdown` turns true.
pub async fn run(app: App, mut shutdown: watch::Receiver<bool>) {
    let _stops = StopsHeartbeat(app.mail_worker.clone());
    let transport = match Transport::from_app(&app) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = ?e, "mail worker cannot start; mail stays queued");
            return;
        }
    };
    let wake = app.store.mail_queued();
    loop {
        app.mail_worker.beat();
        if let Err(e) = deliver_due(&app, &transport).await {
            tracing::warn!(error = ?e, "mail delivery round failed");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn deliver_due(app: &App, transport: &Transport) -> anyhow::Result<()> {
    loop {
        let now = app.clock.now();
        let due = {
            let mut tx = app.store.begin().await?;
            let due = store::mail::claim_due(&mut tx, now, LEASE, BATCH).await?;
            tx.commit().await?;
            due
        };
        if due.is_empty() {
            return Ok(());
        }
        for mail in due {
            app.mail_worker.beat();
            let outcome = match build(&app.settings.mail_from, &mail) {
                Ok(message) => transport.send(message, &mail).await,
                Err(e) => Err(e),
            };
            let mut tx = app.store.begin().await?;
            match outcome {
                Ok(()) => {
                    metrics::counter!("postroom_mails_total", "result" => "sent").increment(1);
                    store::mail::delete(&mut tx, &mail.id).await?;
                }
                Err(e) => {
                    metrics::counter!("postroom_mails_total", "result" => "failed").increment(1);
                    let backoff = (30 * SECOND)
                        .saturating_mul(1 << mail.attempts.clamp(0, 10))
                        .min(HOUR);
                    tracing::warn!(mail = %mail.id, attempts = mail.attempts + 1, error = %format!("{e:#}"), "mail not sent; will retry");
                    store::mail::reschedule(
                        &mut tx,
                        &mail.id,
                        app.clock.now() + backoff,
                        &format!("{e:#}"),
                    )
                    .await?;
                }
            }
            tx.commit().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_alive_until_it_stops_or_misses_its_beats() {
        let now = Instant::now();
        let at = |ago: Duration| Pulse::Beat(now - ago);
        assert!(at(Duration::ZERO).liveness(now).alive);
        assert!(at(STALLED_AFTER).liveness(now).alive);
        let stalled = at(STALLED_AFTER + Duration::from_secs(1)).liveness(now);
        assert_eq!((stalled.alive, stalled.state), (false, "stalled"));
        assert_eq!(
            stalled.since_beat,
            Some(STALLED_AFTER + Duration::from_secs(1))
        );
        assert!(!Pulse::Stopped.liveness(now).alive);
        assert!(!Pulse::NotStarted.liveness(now).alive);

        let heartbeat = Heartbeat::default();
        assert_eq!(heartbeat.pulse(), Pulse::NotStarted);
        heartbeat.beat();
        assert_eq!(heartbeat.pulse().liveness(Instant::now()).state, "running");
        drop(StopsHeartbeat(heartbeat.clone()));
        assert_eq!(heartbeat.pulse(), Pulse::Stopped);
    }
}
