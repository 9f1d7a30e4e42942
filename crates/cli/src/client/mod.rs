//! The client half of `postroom`: signing in to servers through the
//! browser, several accounts, and a folder of collections kept in sync.
//! It speaks only the public API, through `postroom-client`.
//!
//! Exit codes scripts can rely on are [`Exit`]'s; `--json` prints one JSON
//! document (or, for `watch`, one per line) on standard output instead of
//! sentences.

pub mod accounts;
pub mod folder;
pub mod login;
pub mod sync;
pub mod transfer;
pub mod watch;

use std::io::IsTerminal as _;
use std::path::PathBuf;

use serde_json::{json, Value};

/// Exit codes of the client commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Anything else that went wrong.
    Failure = 1,
    /// Not signed in, or the session ended: `postroom login`.
    SignIn = 3,
    /// Done, but conflicts wait (`postroom resolve`).
    Conflicts = 4,
    /// The server could not be reached; nothing was lost, try again.
    Offline = 5,
    /// Sync is turned off (`postroom sync on`).
    SyncOff = 6,
}

/// A client command that did not succeed: what to tell the person and the
/// exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            code,
            message: message.into(),
        }
    }

    pub fn other(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Failure, "failed", message)
    }
}

impl From<postroom_client::Error> for Failure {
    fn from(err: postroom_client::Error) -> Failure {
        use postroom_client::Error as E;
        match &err {
            E::Unreachable { .. } => Failure::new(Exit::Offline, "offline", err.to_string()),
            E::Unauthenticated { .. } => Failure::new(
                Exit::SignIn,
                "signed_out",
                format!("{err}: sign in again with `postroom login`"),
            ),
            E::Conflict(_) => Failure::new(Exit::Conflicts, "conflict", err.to_string()),
            _ => Failure::other(err.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Failure {
        Failure::other(err.to_string())
    }
}

pub type Outcome<T = ()> = Result<T, Failure>;

/// What every client command shares: where its state lives and how it
/// talks to the person.
pub struct Ctx {
    /// `$XDG_CONFIG_HOME/postroom`, or `~/.config/postroom`.
    pub dir: PathBuf,
    pub json: bool,
    /// Whether the person is at a terminal that can answer questions.
    pub interactive: bool,
}

impl Ctx {
    pub fn new(json: bool) -> Outcome<Ctx> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
            .ok_or_else(|| {
                Failure::other("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep accounts")
            })?;
        Ok(Ctx {
            dir: base.join("postroom"),
            json,
            interactive: !json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        })
    }

    /// Says something to the person (on standard error, so that standard
    /// output stays the command's result); quiet with `--json`.
    pub fn say(&self, text: impl AsRef<str>) {
        if !self.json {
            eprintln!("{}", text.as_ref());
        }
    }

    /// The command's result: `json` with `--json`, else `text` (when
    /// there is any) on standard output.
    pub fn result(&self, text: impl AsRef<str>, json: Value) {
        if self.json {
            println!("{json}");
        } else if !text.as_ref().is_empty() {
            println!("{}", text.as_ref());
        }
    }
}

/// Runs a client command and turns its outcome into the process's exit
/// code, telling the person what failed.
pub fn finish(ctx_json: bool, outcome: Outcome<Exit>) -> std::process::ExitCode {
    match outcome {
        Ok(exit) => std::process::ExitCode::from(exit as u8),
        Err(failure) => {
            if ctx_json {
                println!(
                    "{}",
                    json!({"error": {"code": failure.code, "message": failure.message}})
                );
            } else {
                eprintln!("error: {}", failure.message);
            }
            std::process::ExitCode::from(failure.exit as u8)
        }
    }
}

/// A multi-thread runtime for a client command.
pub fn runtime() -> Outcome<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::other(format!("cannot start: {e}")))
}
