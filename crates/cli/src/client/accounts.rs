//! The accounts the client is signed in to (A6), in `accounts.json` under
//! the client's directory, and their tokens: in the OS keyring when there
//! is one (the Secret Service on Linux, the Keychain on macOS, the
//! Credential Manager on Windows), else in `tokens.json` beside it,
//! readable by the user alone. Tokens never appear in the accounts file,
//! in output or in logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postroom_client::{Auth, Client};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{Ctx, Exit, Failure, Outcome};

/// The server used when none is named and none was used before.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
const KEYRING_SERVICE: &str = "postroom";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// The key (`username@host`) of the active account.
    #[serde(default)]
    pub active: Option<String>,
    /// The last server signed in to: `login` without a URL uses it.
    #[serde(default)]
    pub last_server: Option<String>,
    /// Whether `push`, `pull` and `watch` talk to servers (`sync off|on`).
    #[serde(default = "yes")]
    pub sync: bool,
    #[serde(default)]
    pub accounts: Vec<Account>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// The server's URL, normalised (no trailing slash).
    pub server: String,
    pub username: String,
    pub user_id: String,
    /// Where the token is: `keyring` or `file`.
    pub token_store: String,
    pub signed_in_at: String,
}

impl Account {
    /// `username@host[:port]`, how the person names the account.
    pub fn key(&self) -> String {
        account_key(&self.username, &self.server)
    }
}

pub fn account_key(username: &str, server: &str) -> String {
    format!("{username}@{}", host_of(server))
}

fn host_of(server: &str) -> String {
    Url::parse(server)
        .ok()
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => server.to_owned(),
        })
        .unwrap_or_else(|| server.to_owned())
}

/// A server URL as the person typed it (`localhost:8080`,
/// `https://postroom.example.com/`), checked and normalised.
pub fn normalise_server(input: &str) -> Outcome<Url> {
    let input = input.trim();
    let with_scheme = if input.contains("://") {
        input.to_owned()
    } else {
        format!("http://{input}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| Failure::other(format!("{input:?} is not a server URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Failure::other(format!(
            "{input:?} is not a server URL (like http://127.0.0.1:8080 or https://postroom.example.com)"
        )));
    }
    let mut url = url;
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

impl State {
    fn path(ctx: &Ctx) -> PathBuf {
        ctx.dir.join("accounts.json")
    }

    pub fn load(ctx: &Ctx) -> Outcome<State> {
        match std::fs::read(State::path(ctx)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Failure::other(format!(
                    "{} is damaged ({e}); move it away and sign in again",
                    State::path(ctx).display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
                sync: true,
                ..State::default()
            }),
            Err(e) => Err(Failure::other(format!(
                "cannot read {}: {e}",
                State::path(ctx).display()
            ))),
        }
    }

    pub fn save(&self, ctx: &Ctx) -> Outcome {
        let bytes = serde_json::to_vec_pretty(self).expect("the state serialises");
        write_private(&State::path(ctx), &bytes)
    }

    pub fn find(&self, key: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.key() == key)
    }

    /// The account a person named: `username@host`, or a username alone
    /// when only one account has it.
    pub fn resolve(&self, name: &str) -> Outcome<&Account> {
        if let Some(account) = self.find(name) {
            return Ok(account);
        }
        let matching: Vec<&Account> = self
            .accounts
            .iter()
            .filter(|a| a.username.eq_ignore_ascii_case(name))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one),
            [] => Err(Failure::new(
                Exit::SignIn,
                "no_such_account",
                format!(
                    "no account {name:?} is signed in (`postroom accounts` lists them; `postroom login` adds one)"
                ),
            )),
            many => Err(Failure::other(format!(
                "{name:?} is signed in on several servers; name one of: {}",
                many.iter().map(|a| a.key()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The active account, or why there is none.
    pub fn active(&self) -> Outcome<&Account> {
        self.active
            .as_deref()
            .and_then(|key| self.find(key))
            .ok_or_else(|| {
                Failure::new(
                    Exit::SignIn,
                    "not_signed_in",
                    "not signed in: run `postroom login [URL]`",
                )
            })
    }

    /// Adds or replaces an account and makes it the active one.
    pub fn add(&mut self, account: Account) {
        let key = account.key();
        self.last_server = Some(account.server.clone());
        self.accounts.retain(|a| a.key() != key);
        self.accounts.push(account);
        self.active = Some(key);
    }

    pub fn remove(&mut self, key: &str) {
        self.accounts.retain(|a| a.key() != key);
        if self.active.as_deref() == Some(key) {
            self.active = self.accounts.last().map(Account::key);
        }
    }
}

/// Writes a file readable by the user alone, atomically (a temporary file
/// renamed over it), making its directory when needed.
pub fn write_private(path: &Path, bytes: &[u8]) -> Outcome {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(|e| Failure::other(format!("cannot write {}: {e}", tmp.display())))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// Where tokens are kept.
pub struct Tokens<'a> {
    ctx: &'a Ctx,
}

impl<'a> Tokens<'a> {
    pub fn new(ctx: &'a Ctx) -> Tokens<'a> {
        Tokens { ctx }
    }

    fn file(&self) -> PathBuf {
        self.ctx.dir.join("tokens.json")
    }

    fn read_file(&self) -> Outcome<BTreeMap<String, String>> {
        match std::fs::read(self.file()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Failure::other(format!("{} is damaged: {e}", self.file().display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Failure::other(format!(
                "cannot read {}: {e}",
                self.file().display()
            ))),
        }
    }

    fn write_file(&self, tokens: &BTreeMap<String, String>) -> Outcome {
        write_private(
            &self.file(),
            &serde_json::to_vec_pretty(tokens).expect("tokens serialise"),
        )
    }

    /// Keeps a token; answers where (`keyring` or `file`).
    pub async fn store(&self, key: &str, token: &str) -> Outcome<&'static str> {
        if keyring_set(key, token).await {
            // A token left in the file by an earlier sign-in goes.
            let mut tokens = self.read_file()?;
            if tokens.remove(key).is_some() {
                self.write_file(&tokens)?;
            }
            return Ok("keyring");
        }
        let mut tokens = self.read_file()?;
        tokens.insert(key.to_owned(), token.to_owned());
        self.write_file(&tokens)?;
        Ok("file")
    }

    pub async fn load(&self, account: &Account) -> Outcome<Option<String>> {
        let key = account.key();
        if account.token_store == "keyring" {
            return Ok(keyring_get(&key).await);
        }
        Ok(self.read_file()?.remove(&key))
    }

    pub async fn forget(&self, account: &Account) -> Outcome {
        let key = account.key();
        if account.token_store == "keyring" {
            keyring_delete(&key).await;
        }
        let mut tokens = self.read_file()?;
        if tokens.remove(&key).is_some() {
            self.write_file(&tokens)?;
        }
        Ok(())
    }
}

/// Whether the OS keyring may be used: `POSTROOM_KEYRING=off` keeps
/// tokens in the file (a headless machine, a container).
fn keyring_wanted() -> bool {
    !matches!(
        std::env::var("POSTROOM_KEYRING").as_deref(),
        Ok("off" | "0" | "false" | "no")
    )
}

/// Runs a keyring call off the async threads, giving up after a few
/// seconds (a keyring daemon that does not answer counts as none).
async fn keyring_call<T: Send + 'static>(
    f: impl FnOnce() -> Option<T> + Send + 'static,
) -> Option<T> {
    if !keyring_wanted() {
        return None;
    }
    let call = tokio::task::spawn_blocking(f);
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(answer)) => answer,
        _ => None,
    }
}

async fn keyring_set(key: &str, token: &str) -> bool {
    let (key, token) = (key.to_owned(), token.to_owned());
    keyring_call(move || {
        let entry = keyring::Entry::new(KEYRING_SERVICE, &key).ok()?;
        entry.set_password(&token).ok()?;
        // Only a keyring that gives the token back counts.
        (entry.get_password().ok()? == token).then_some(())
    })
    .await
    .is_some()
}

async fn keyring_get(key: &str) -> Option<String> {
    let key = key.to_owned();
    keyring_call(move || {
        keyring::Entry::new(KEYRING_SERVICE, &key)
            .ok()?
            .get_password()
            .ok()
    })
    .await
}

async fn keyring_delete(key: &str) {
    let key = key.to_owned();
    let _ = keyring_call(move || {
        keyring::Entry::new(KEYRING_SERVICE, &key)
            .ok()?
            .delete_credential()
            .ok()
    })
    .await;
}

/// A client of the account's server with its token, or why there is none.
pub async fn client_for(ctx: &Ctx, account: &Account) -> Outcome<Client> {
    let token = Tokens::new(ctx).load(account).await?.ok_or_else(|| {
        Failure::new(
            Exit::SignIn,
            "signed_out",
            format!(
                "the token of {} is gone: sign in again with `postroom login {}`",
                account.key(),
                account.server
            ),
        )
    })?;
    let url = normalise_server(&account.server)?;
    let auth = if token.starts_with("prs_") {
        Auth::Bearer(token)
    } else {
        Auth::ApiKey(token)
    };
    Ok(Client::new(&url, Some(auth))?)
}
