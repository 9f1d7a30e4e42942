//! `watch <dir>`: the folder kept in sync live. File-system events send
//! local edits; the sync socket tells of the server's changes; either wakes
//! one pass (push, then pull). It shows connected / syncing / offline; when
//! the server cannot be reached it keeps watching and tries again, and the
//! edits made meanwhile (they are in the folder) go out when it is back.
//! When the session ends it says so and waits for `postroom login`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::Watcher as _;
use postroom_client::socket::{Closed, SyncSocket};
use postroom_client::Client;
use postroom_core::api::SyncMessage;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::accounts::{self, Account, State};
use super::folder::{Folder, Report};
use super::sync::account_for;
use super::{Ctx, Exit, Failure, Outcome};

/// What wakes the pass loop.
#[derive(Debug)]
enum Wake {
    /// A file in the folder changed.
    Local,
    /// The server has changes, or the socket (re)connected.
    Remote,
    /// The socket's state.
    Socket(Link),
}

#[derive(Debug, Clone, PartialEq)]
enum Link {
    Connected,
    Offline(String),
    SignedOut,
}

/// The longest wait between two tries while offline.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Quiet time after a file event before a pass (editors write in bursts).
const SETTLE: Duration = Duration::from_millis(300);

pub async fn watch(ctx: &Ctx, dir: &Path, include_secrets: bool) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let (account, mut client) = account_for(ctx, &state, dir).await?;
    let mut folder = Folder::open(dir, &account, true)?;
    if include_secrets {
        folder.index.include_secrets = true;
        folder.save()?;
    }
    let root = folder
        .root
        .canonicalize()
        .unwrap_or_else(|_| folder.root.clone());

    let (wake_tx, mut wake) = mpsc::channel::<Wake>(64);
    let _watcher = watch_files(&root, wake_tx.clone())?;
    let (cursor_tx, cursor) = watch::channel(folder.index.cursor.clone());
    let mut socket = tokio::spawn(socket_loop(client.clone(), cursor.clone(), wake_tx.clone()));

    status(
        ctx,
        "watching",
        &format!("{} with {}", root.display(), account.key()),
    );
    let mut link = Link::Offline("connecting".into());
    let mut due = true; // a first pass at start
    let mut backoff = Duration::from_secs(1);
    let mut paused = false;
    let mut signed_out = false;
    loop {
        let sync_on = State::load(ctx).map(|s| s.sync).unwrap_or(true);
        if !sync_on && !paused {
            status(ctx, "paused", "sync is off (`postroom sync on` resumes)");
            paused = true;
        } else if sync_on && paused {
            status(ctx, "resumed", "sync is on");
            paused = false;
            due = true;
        }
        if signed_out {
            // Waits for a new token of the same account.
            if let Some(fresh) = fresh_client(ctx, &account, &client).await {
                client = fresh;
                signed_out = false;
                socket.abort();
                socket = tokio::spawn(socket_loop(client.clone(), cursor.clone(), wake_tx.clone()));
                status(ctx, "signed in", "the account is signed in again");
                due = true;
            }
        }
        if due && !paused && !signed_out {
            status(ctx, "syncing", "");
            let mut report = Report::default();
            let pass = async {
                folder.push(&client, &mut report).await?;
                folder.pull(&client, &mut report).await
            }
            .await;
            for line in report.lines() {
                event(ctx, &line);
            }
            match pass {
                Ok(()) => {
                    cursor_tx.send_replace(folder.index.cursor.clone());
                    due = false;
                    backoff = Duration::from_secs(1);
                    let what = if link == Link::Connected {
                        "connected"
                    } else {
                        "synced"
                    };
                    status(ctx, what, "up to date");
                }
                Err(f) if f.exit == Exit::Offline => {
                    status(
                        ctx,
                        "offline",
                        &format!(
                            "{} (edits wait here; retrying in {}s)",
                            f.message,
                            backoff.as_secs()
                        ),
                    );
                }
                Err(f) if f.exit == Exit::SignIn => {
                    if !signed_out {
                        signed_out_notice(ctx, &account);
                    }
                    signed_out = true;
                }
                Err(f) => return Err(f),
            }
        }
        // Sleep until something happens (or a retry, or a state check).
        let wait = if due { backoff } else { Duration::from_secs(2) };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                status(ctx, "stopped", "");
                socket.abort();
                return Ok(Exit::Ok);
            }
            woken = wake.recv() => {
                match woken {
                    Some(Wake::Local) => {
                        // Let a burst of writes settle.
                        tokio::time::sleep(SETTLE).await;
                        while wake.try_recv().is_ok() {}
                        due = true;
                    }
                    Some(Wake::Remote) => due = true,
                    Some(Wake::Socket(now)) => {
                        if now != link {
                            match &now {
                                Link::Connected => status(ctx, "connected", client.base().as_str()),
                                Link::Offline(why) => status(ctx, "offline", why),
                                Link::SignedOut => signed_out_notice(ctx, &account),
                            }
                        }
                        if now == Link::SignedOut {
                            signed_out = true;
                        }
                        if now == Link::Connected {
                            due = true;
                        }
                        link = now;
                    }
                    None => return Err(Failure::other("the watchers stopped")),
                }
            }
            _ = tokio::time::sleep(wait) => {
                if due {
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

fn signed_out_notice(ctx: &Ctx, account: &Account) {
    status(
        ctx,
        "signed out",
        &format!(
            "the session of {} ended: run `postroom login {}`; edits wait here and go out once you do",
            account.key(),
            account.server
        ),
    );
}

/// A new client when the account's token changed (signed in again).
async fn fresh_client(ctx: &Ctx, account: &Account, old: &Client) -> Option<Client> {
    let state = State::load(ctx).ok()?;
    let account = state.find(&account.key())?.clone();
    let client = accounts::client_for(ctx, &account).await.ok()?;
    let same = matches!(
        (client.auth(), old.auth()),
        (Some(postroom_client::Auth::Bearer(a)), Some(postroom_client::Auth::Bearer(b))) if a == b
    );
    (!same).then_some(client)
}

fn watch_files(root: &Path, wake: mpsc::Sender<Wake>) -> Outcome<notify::RecommendedWatcher> {
    let meta: PathBuf = root.join(".postroom");
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let ours = event.paths.iter().all(|p| {
            p.starts_with(&meta)
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
        });
        if !ours {
            let _ = wake.try_send(Wake::Local);
        }
    })
    .map_err(|e| Failure::other(format!("cannot watch files: {e}")))?;
    watcher
        .watch(root, notify::RecursiveMode::Recursive)
        .map_err(|e| Failure::other(format!("cannot watch {}: {e}", root.display())))?;
    Ok(watcher)
}

/// Keeps the sync socket open, waking the pass loop on each change;
/// reconnects with growing pauses when it drops.
async fn socket_loop(
    client: Client,
    cursor: watch::Receiver<Option<String>>,
    wake: mpsc::Sender<Wake>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        // The socket only wakes passes (a pass reads the change log): it
        // starts where the last pass ended, so what it sends first is what
        // the folder has not seen yet.
        let since = cursor.borrow().clone();
        match SyncSocket::connect(&client, since.as_deref()).await {
            Ok(mut socket) => {
                backoff = Duration::from_secs(1);
                let _ = wake.send(Wake::Socket(Link::Connected)).await;
                loop {
                    match socket.next().await {
                        Ok(SyncMessage::Change { .. }) => {
                            let _ = wake.send(Wake::Remote).await;
                        }
                        Ok(_) => {}
                        Err(Closed::SessionEnded) => {
                            let _ = wake.send(Wake::Socket(Link::SignedOut)).await;
                            return;
                        }
                        Err(Closed::CursorExpired) => {
                            let _ = wake.send(Wake::Remote).await;
                            break;
                        }
                        Err(Closed::Reconnect(why)) => {
                            let _ = wake.send(Wake::Socket(Link::Offline(why))).await;
                            break;
                        }
                    }
                }
            }
            Err(postroom_client::Error::Unauthenticated { .. }) => {
                let _ = wake.send(Wake::Socket(Link::SignedOut)).await;
                return;
            }
            Err(err) => {
                let _ = wake
                    .send(Wake::Socket(Link::Offline(err.to_string())))
                    .await;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn status(ctx: &Ctx, state: &str, detail: &str) {
    if ctx.json {
        println!("{}", json!({"status": state, "detail": detail}));
    } else if detail.is_empty() {
        eprintln!("[{}] {state}", clock());
    } else {
        eprintln!("[{}] {state}: {detail}", clock());
    }
}

fn event(ctx: &Ctx, line: &str) {
    if ctx.json {
        println!("{}", json!({"event": line}));
    } else {
        eprintln!("[{}]   {line}", clock());
    }
}

fn clock() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second())
}
