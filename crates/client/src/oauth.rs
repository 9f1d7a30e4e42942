//! Browser sign-in for native apps (RFC 8252): the authorization code grant
//! with PKCE (RFC 7636) and a loopback redirect, and the device
//! authorization grant (RFC 8628) for machines without a browser. Either
//! ends with a session token, which the server lists among the person's
//! sessions as "<client> on <device>".

use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::TryRng as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::client::error_chain;
use crate::{Client, Error, Result};

/// What `/.well-known/oauth-authorization-server` says (RFC 8414), the
/// parts a native client needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub device_authorization_endpoint: Url,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// A successful token answer (RFC 6749 5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub access_token: String,
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// A device authorization (RFC 8628 3.2): show `user_code` and
/// `verification_uri` to the person, then [`DeviceAuthorization::poll`].
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// An OAuth error answer (RFC 6749 5.2).
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A PKCE pair: the verifier stays here, its S256 challenge travels.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_string(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// `bytes` random bytes, base64url: a PKCE verifier, a `state`.
pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::SysRng
        .try_fill_bytes(&mut buf)
        .expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The server's metadata.
pub async fn metadata(client: &Client) -> Result<Metadata> {
    let url = client.url("/.well-known/oauth-authorization-server");
    let response = client
        .http()
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Error::unreachable(client.base().as_str(), &error_chain(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::unreachable(client.base().as_str(), &error_chain(&e)))?;
    if !status.is_success() {
        return Err(match status.as_u16() {
            404 => Error::Protocol(format!(
                "{} does not offer browser sign-in (no {url}); is it a Postroom server?",
                client.base()
            )),
            code => Error::from_answer(client.base().as_str(), code, &body),
        });
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{url}: {e}")))
}

/// A loopback listener on 127.0.0.1 that receives the browser's redirect.
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
}

/// What the redirect brought.
#[derive(Debug)]
pub enum Redirect {
    Code(String),
    /// The server said no (`access_denied` when the person denied).
    Error {
        code: String,
        description: String,
    },
}

impl Loopback {
    pub async fn bind() -> Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The URL to open in the browser.
    pub fn authorize_url(
        &self,
        metadata: &Metadata,
        client_id: &str,
        device_name: &str,
        state: &str,
        pkce: &Pkce,
    ) -> Url {
        let mut url = metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state)
            .append_pair("device_name", device_name);
        url
    }

    /// Waits for the redirect that carries `state`, answering the browser
    /// with a short page. Requests without the right state (another tab, a
    /// favicon) are answered and ignored.
    pub async fn wait(&self, state: &str, timeout: Duration) -> Result<Redirect> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let Ok(accepted) = accepted else {
                return Err(Error::Protocol(
                    "the sign-in was not finished in the browser in time".into(),
                ));
            };
            let (mut stream, _) = accepted?;
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // The request line and headers; the redirect has no body.
            while len < buf.len() {
                let read =
                    tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..]))
                        .await
                        .unwrap_or(Ok(0))?;
                if read == 0 {
                    break;
                }
                len += read;
                if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let target = head
                .lines()
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .unwrap_or("/");
            let url = Url::parse(&format!("http://127.0.0.1{target}")).ok();
            let params: Vec<(String, String)> = url
                .as_ref()
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
            let get = |key: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            let ours = url.as_ref().is_some_and(|u| u.path() == "/callback")
                && get("state").as_deref() == Some(state);
            if !ours {
                respond(
                    &mut stream,
                    404,
                    "Not found",
                    "This is not a sign-in in progress.",
                )
                .await;
                continue;
            }
            return Ok(match (get("code"), get("error")) {
                (Some(code), None) => {
                    respond(
                        &mut stream,
                        200,
                        "Signed in",
                        "You are signed in. You can close this tab and go back to the terminal.",
                    )
                    .await;
                    Redirect::Code(code)
                }
                (_, error) => {
                    let code = error.unwrap_or_else(|| "invalid_request".into());
                    respond(
                        &mut stream,
                        200,
                        "Not signed in",
                        "The sign-in did not complete. You can close this tab; the terminal says what happened.",
                    )
                    .await;
                    Redirect::Error {
                        description: get("error_description").unwrap_or_default(),
                        code,
                    }
                }
            });
        }
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: u16, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto\">\
         <h1>{title}</h1><p>{text}</p></body></html>"
    );
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Posts a form to the token or device endpoint and reads the answer, an
/// OAuth error answer becoming [`Error::Api`] with the RFC's code.
async fn post_form<T: serde::de::DeserializeOwned>(
    client: &Client,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<T> {
    let base = client.base().as_str();
    let response = client
        .http()
        .post(url.clone())
        .form(form)
        .send()
        .await
        .map_err(|e| Error::unreachable(base, &error_chain(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::unreachable(base, &error_chain(&e)))?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{url}: {e}")));
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(err) => Err(Error::Api {
            status,
            message: err.error_description.unwrap_or_else(|| err.error.clone()),
            code: err.error,
        }),
        Err(_) => Err(Error::from_answer(base, status, &body)),
    }
}

/// Exchanges an authorization code for a token.
pub async fn exchange_code(
    client: &Client,
    metadata: &Metadata,
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<Token> {
    post_form(
        client,
        &metadata.token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await
}

/// Starts a device authorization.
pub async fn start_device(
    client: &Client,
    metadata: &Metadata,
    client_id: &str,
    device_name: &str,
) -> Result<DeviceAuthorization> {
    post_form(
        client,
        &metadata.device_authorization_endpoint,
        &[("client_id", client_id), ("device_name", device_name)],
    )
    .await
}

impl DeviceAuthorization {
    /// Polls the token endpoint until the person approves (the token),
    /// denies (`access_denied`) or the request expires (`expired_token`),
    /// at the interval the server asks for.
    pub async fn poll(
        &self,
        client: &Client,
        metadata: &Metadata,
        client_id: &str,
    ) -> Result<Token> {
        let started = Instant::now();
        let mut interval = Duration::from_secs(self.interval.max(1));
        loop {
            tokio::time::sleep(interval).await;
            let answer = post_form(
                client,
                &metadata.token_endpoint,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &self.device_code),
                    ("client_id", client_id),
                ],
            )
            .await;
            match answer {
                Ok(token) => return Ok(token),
                Err(err) => match err.code() {
                    Some("authorization_pending") => {}
                    Some("slow_down") => interval += Duration::from_secs(5),
                    _ => return Err(err),
                },
            }
            if started.elapsed() > Duration::from_secs(self.expires_in + 30) {
                return Err(Error::Api {
                    status: 400,
                    code: "expired_token".into(),
                    message: "the sign-in request expired".into(),
                });
            }
        }
    }
}
