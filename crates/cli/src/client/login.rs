//! `login`, `logout`, `whoami`, `accounts` and `switch` (A5, A6).
//!
//! `login` opens the browser on the server's sign-in (the authorization
//! code grant with PKCE, answered on a loopback port), or, with
//! `--no-browser` or when no browser opens, prints a URL and a short code
//! to enter on any device (the device grant). `--with-token` reads a token
//! or API key from standard input instead, for scripts.

use std::io::Read as _;
use std::time::Duration;

use postroom_client::oauth::{self, Loopback, Pkce, Redirect};
use postroom_client::{Auth, Client};
use serde_json::json;

use super::accounts::{self, normalise_server, Account, State, Tokens, DEFAULT_SERVER};
use super::{Ctx, Exit, Failure, Outcome};

/// The client id this program signs in as.
pub const CLIENT_ID: &str = "postroom-cli";
/// How long a browser or device sign-in may take (the server's requests
/// expire after 5 minutes too).
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

pub struct LoginArgs {
    pub server: Option<String>,
    pub no_browser: bool,
    pub with_token: bool,
}

/// This machine's name, as the server lists the session ("postroom CLI on
/// <host>").
pub fn device_name() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_owned();
    if name.is_empty() {
        "this computer".to_owned()
    } else {
        name.chars().take(64).collect()
    }
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> Outcome<Exit> {
    let mut state = State::load(ctx)?;
    let server = match args.server.as_deref().or(state.last_server.as_deref()) {
        Some(server) => normalise_server(server)?,
        None => normalise_server(DEFAULT_SERVER)?,
    };
    let token = if args.with_token {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Failure::other(format!("cannot read the token: {e}")))?;
        let token = input.trim().to_owned();
        if token.is_empty() {
            return Err(Failure::other(
                "--with-token reads a session token or API key from standard input; it was empty",
            ));
        }
        token
    } else {
        let anonymous = Client::new(&server, None)?;
        let metadata = oauth::metadata(&anonymous).await?;
        let browser = if args.no_browser {
            None
        } else {
            browser_sign_in(ctx, &anonymous, &metadata).await?
        };
        match browser {
            Some(token) => token,
            None => device_sign_in(ctx, &anonymous, &metadata).await?,
        }
    };
    let auth = if token.starts_with("prs_") {
        Auth::Bearer(token.clone())
    } else {
        Auth::ApiKey(token.clone())
    };
    let me = Client::new(&server, Some(auth))?.me().await?;
    let key = accounts::account_key(&me.username, server.as_str());
    let store = Tokens::new(ctx).store(&key, &token).await?;
    let account = Account {
        server: server.as_str().trim_end_matches('/').to_owned(),
        username: me.username.clone(),
        user_id: me.id.clone(),
        token_store: store.to_owned(),
        signed_in_at: now_rfc3339(),
    };
    let others = state.accounts.iter().filter(|a| a.key() != key).count();
    state.add(account.clone());
    state.save(ctx)?;
    let kept = if store == "keyring" {
        "the token is in the system keyring"
    } else {
        "the token is in a file only you can read"
    };
    let also = if others > 0 {
        format!("; {others} other account(s) stay signed in (`postroom switch`)")
    } else {
        String::new()
    };
    ctx.result(
        format!(
            "Signed in to {} as {} ({kept}{also}).",
            account.server, account.username
        ),
        json!({"account": key, "server": account.server, "username": account.username, "token_store": store}),
    );
    Ok(Exit::Ok)
}

/// The loopback flow: `None` when no browser could be opened.
async fn browser_sign_in(
    ctx: &Ctx,
    client: &Client,
    metadata: &oauth::Metadata,
) -> Outcome<Option<String>> {
    let loopback = Loopback::bind().await?;
    let pkce = Pkce::new();
    let state = oauth::random_string(16);
    let url = loopback.authorize_url(metadata, CLIENT_ID, &device_name(), &state, &pkce);
    if !can_open_browser() || webbrowser::open(url.as_str()).is_err() {
        ctx.say("No browser could be opened here; signing in with a code instead.");
        return Ok(None);
    }
    ctx.say(format!(
        "Your browser opened the sign-in page of {}. If it did not, open:\n  {url}\nWaiting for you to approve there (Ctrl-C to stop; everything else keeps working offline)...",
        client.base()
    ));
    let code = match loopback.wait(&state, SIGN_IN_TIMEOUT).await? {
        Redirect::Code(code) => code,
        Redirect::Error { code, description } => {
            return Err(refused(&code, &description));
        }
    };
    let token = oauth::exchange_code(
        client,
        metadata,
        CLIENT_ID,
        &code,
        loopback.redirect_uri(),
        &pkce,
    )
    .await?;
    Ok(Some(token.access_token))
}

/// Whether a browser could show a page here: on Linux and the BSDs, a
/// display (or a `$BROWSER` the person named); a session over SSH has
/// neither and signs in with a code.
fn can_open_browser() -> bool {
    if !cfg!(all(unix, not(target_os = "macos"))) {
        return true;
    }
    ["BROWSER", "DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

async fn device_sign_in(ctx: &Ctx, client: &Client, metadata: &oauth::Metadata) -> Outcome<String> {
    let device = oauth::start_device(client, metadata, CLIENT_ID, &device_name()).await?;
    let code_line = format!(
        "To sign in, open {} on any device and enter the code {}",
        device.verification_uri, device.user_code
    );
    if ctx.json {
        // Scripts need the code too: one JSON line before the result.
        println!(
            "{}",
            json!({"verification_uri": device.verification_uri,
                   "verification_uri_complete": device.verification_uri_complete,
                   "user_code": device.user_code, "expires_in": device.expires_in})
        );
    } else {
        eprintln!("{code_line}");
        if let Some(complete) = &device.verification_uri_complete {
            eprintln!("(or open {complete})");
        }
        eprintln!("Waiting for you to approve there (the code works for 5 minutes)...");
    }
    match tokio::time::timeout(
        SIGN_IN_TIMEOUT + Duration::from_secs(30),
        device.poll(client, metadata, CLIENT_ID),
    )
    .await
    {
        Ok(Ok(token)) => Ok(token.access_token),
        Ok(Err(err)) => match err.code() {
            Some(code @ ("access_denied" | "expired_token")) => Err(refused(code, "")),
            _ => Err(err.into()),
        },
        Err(_) => Err(refused("expired_token", "")),
    }
}

fn refused(code: &str, description: &str) -> Failure {
    let message = match code {
        "access_denied" => "the sign-in was denied in the browser".to_owned(),
        "expired_token" => {
            "the sign-in request expired (5 minutes): run `postroom login` again".to_owned()
        }
        other if description.is_empty() => format!("the server refused the sign-in ({other})"),
        other => format!("the server refused the sign-in: {description} ({other})"),
    };
    Failure::new(Exit::SignIn, "sign_in_failed", message)
}

pub async fn logout(ctx: &Ctx, name: Option<&str>) -> Outcome<Exit> {
    let mut state = State::load(ctx)?;
    let account = match name {
        Some(name) => state.resolve(name)?.clone(),
        None => state.active()?.clone(),
    };
    let mut note = String::new();
    if let Ok(client) = accounts::client_for(ctx, &account).await {
        match client.sign_out().await {
            Ok(()) | Err(postroom_client::Error::Unauthenticated { .. }) => {}
            Err(err) => {
                note = format!(
                    " The server could not be told ({err}); the session ends when it expires, or revoke it under Settings > Sessions."
                )
            }
        }
    }
    Tokens::new(ctx).forget(&account).await?;
    state.remove(&account.key());
    state.save(ctx)?;
    let now_active = state.active.clone();
    let then = match &now_active {
        Some(key) => format!(" The active account is now {key}."),
        None => String::new(),
    };
    ctx.result(
        format!("Signed out of {}.{then}{note}", account.key()),
        json!({"signed_out": account.key(), "active": now_active}),
    );
    Ok(Exit::Ok)
}

pub async fn whoami(ctx: &Ctx) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let account = state.active()?;
    let client = accounts::client_for(ctx, account).await?;
    match client.me().await {
        Ok(me) => {
            ctx.result(
                format!("{} on {} ({})", me.username, account.server, me.email),
                json!({"account": account.key(), "server": account.server, "username": me.username,
                       "email": me.email, "online": true}),
            );
            Ok(Exit::Ok)
        }
        Err(postroom_client::Error::Unreachable { .. }) => {
            ctx.result(
                format!(
                    "{} on {} (the server cannot be reached now)",
                    account.username, account.server
                ),
                json!({"account": account.key(), "server": account.server,
                       "username": account.username, "online": false}),
            );
            Ok(Exit::Offline)
        }
        Err(err @ postroom_client::Error::Unauthenticated { .. }) => Err(Failure::new(
            Exit::SignIn,
            "signed_out",
            format!(
                "the session of {} ended ({err}): sign in again with `postroom login {}`",
                account.key(),
                account.server
            ),
        )),
        Err(err) => Err(err.into()),
    }
}

pub fn list(ctx: &Ctx) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let active = state.active.as_deref();
    let lines: Vec<String> = state
        .accounts
        .iter()
        .map(|a| {
            let mark = if Some(a.key().as_str()) == active {
                "*"
            } else {
                " "
            };
            format!("{mark} {}  ({})", a.key(), a.server)
        })
        .collect();
    let text = if lines.is_empty() {
        "No accounts are signed in (`postroom login [URL]` adds one).".to_owned()
    } else {
        lines.join("\n")
    };
    let listed: Vec<_> = state
        .accounts
        .iter()
        .map(|a| {
            json!({"account": a.key(), "server": a.server, "username": a.username,
                   "active": Some(a.key().as_str()) == active})
        })
        .collect();
    ctx.result(text, json!({ "accounts": listed }));
    Ok(Exit::Ok)
}

pub fn switch(ctx: &Ctx, name: &str) -> Outcome<Exit> {
    let mut state = State::load(ctx)?;
    let key = state.resolve(name)?.key();
    state.active = Some(key.clone());
    state.save(ctx)?;
    ctx.result(format!("Switched to {key}."), json!({ "active": key }));
    Ok(Exit::Ok)
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
