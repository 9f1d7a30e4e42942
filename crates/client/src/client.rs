use std::time::Duration;

use futures_util::Stream;
use postroom_core::api::{
    ChangePage, ConflictDetail, ConflictList, ImportResult, ItemRef, Keep, ResolveRequest,
    Resolved, TeamList, User, UserEnvelope,
};
use postroom_core::ItemKind;
use reqwest::{header, Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use crate::error::{Error, Result};

/// How requests prove who makes them.
#[derive(Clone)]
pub enum Auth {
    /// A session token (`prs_...`), as browser sign-in or `POST /sessions`
    /// gives it.
    Bearer(String),
    /// A personal API key.
    ApiKey(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Bearer(_) => "Auth::Bearer(..)",
            Auth::ApiKey(_) => "Auth::ApiKey(..)",
        })
    }
}

/// A client of one server, as one person.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<Auth>,
}

/// An item's document (a Postman collection, an environment) and the
/// revision it is.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub revision: i64,
}

/// A request body sent as a stream, so a caller can show its progress.
pub struct Upload {
    pub len: u64,
    pub content_type: &'static str,
    pub body: reqwest::Body,
}

impl Upload {
    /// A body of `len` bytes read from `stream`.
    pub fn stream<S>(len: u64, content_type: &'static str, stream: S) -> Upload
    where
        S: Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static,
    {
        Upload {
            len,
            content_type,
            body: reqwest::Body::wrap_stream(stream),
        }
    }
}

/// The API path of a kind of item.
fn kind_path(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Collection => "collections",
        ItemKind::Environment => "environments",
        ItemKind::History => "history",
        ItemKind::HeaderPreset => "header-presets",
        ItemKind::Globals => "globals",
    }
}

/// The key a kind of item's document travels under (`{collection: ...}`).
pub fn kind_key(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Collection => "collection",
        ItemKind::Environment => "environment",
        ItemKind::History => "entry",
        ItemKind::HeaderPreset => "header_preset",
        ItemKind::Globals => "globals",
    }
}

impl Client {
    /// A client of the server at `base` (its public URL, like
    /// `http://127.0.0.1:8080`).
    pub fn new(base: &Url, auth: Option<Auth>) -> Result<Client> {
        crate::install_crypto();
        let http = reqwest::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Protocol(format!("cannot make an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: base.clone(),
            auth,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The absolute URL of a path on the server (`/api/v1/me`).
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        url.set_path(&format!("{base_path}{path}"));
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match &self.auth {
            Some(Auth::Bearer(token)) => builder.bearer_auth(token),
            Some(Auth::ApiKey(key)) => builder.header("x-api-key", key),
            None => builder,
        }
    }

    /// Sends a request and returns the answer, or the error it stands for.
    async fn send(&self, builder: RequestBuilder) -> Result<reqwest::Response> {
        let url = self.base.as_str().to_owned();
        let response = builder
            .send()
            .await
            .map_err(|e| Error::unreachable(&url, &error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::unreachable(&url, &error_chain(&e)))?;
        Err(Error::from_answer(&url, status.as_u16(), &body))
    }

    async fn json<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let response = self.send(builder).await?;
        decode(response).await
    }

    /// The signed-in person.
    pub async fn me(&self) -> Result<User> {
        let me: UserEnvelope = self.json(self.request(Method::GET, "/api/v1/me")).await?;
        Ok(me.user)
    }

    /// Ends this client's session on the server.
    pub async fn sign_out(&self) -> Result<()> {
        self.send(self.request(Method::DELETE, "/api/v1/sessions/current"))
            .await
            .map(drop)
    }

    pub async fn teams(&self) -> Result<TeamList> {
        self.json(self.request(Method::GET, "/api/v1/teams")).await
    }

    /// A page of the change log after `since` (everything visible, as
    /// `created`, without it). A cursor older than the log answers
    /// `cursor_expired` (410).
    pub async fn changes(&self, since: Option<&str>, limit: u32) -> Result<ChangePage> {
        let mut builder = self
            .request(Method::GET, "/api/v1/changes")
            .query(&[("limit", limit.to_string())]);
        if let Some(since) = since {
            builder = builder.query(&[("since", since)]);
        }
        self.json(builder).await
    }

    /// An item's current document and revision.
    pub async fn item(&self, kind: ItemKind, id: &str) -> Result<Document> {
        let path = format!("/api/v1/{}/{}", kind_path(kind), enc(id));
        let response = self.send(self.request(Method::GET, &path)).await?;
        let revision = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_matches('"').parse().ok())
            .ok_or_else(|| Error::Protocol(format!("{path} came without an ETag")))?;
        let mut envelope: Value = decode(response).await?;
        let value = envelope
            .get_mut(kind_key(kind))
            .map(Value::take)
            .ok_or_else(|| Error::Protocol(format!("{path} came without its document")))?;
        Ok(Document { value, revision })
    }

    /// A past (or the current) revision of an item.
    pub async fn item_revision(&self, kind: ItemKind, id: &str, revision: i64) -> Result<Value> {
        let path = format!(
            "/api/v1/{}/{}/revisions/{revision}",
            kind_path(kind),
            enc(id)
        );
        let mut envelope: Value = self.json(self.request(Method::GET, &path)).await?;
        envelope
            .get_mut(kind_key(kind))
            .map(Value::take)
            .ok_or_else(|| Error::Protocol(format!("{path} came without its document")))
    }

    /// A new item, private or the team's (`team`, a slug).
    pub async fn create_item(
        &self,
        kind: ItemKind,
        document: &Value,
        team: Option<&str>,
    ) -> Result<ItemRef> {
        let path = format!("/api/v1/{}", kind_path(kind));
        let body = json!({ kind_key(kind): document, "team": team });
        let mut created: Value = self
            .json(self.request(Method::POST, &path).json(&body))
            .await?;
        item_ref(&mut created, kind)
    }

    /// A new revision of an item, written on `base` (the revision the edit
    /// started from; the server merges what changed since) or, without a
    /// base, over whatever is current. Returns the item and whether the
    /// write was merged.
    pub async fn put_item(
        &self,
        kind: ItemKind,
        id: &str,
        document: &Value,
        base: Option<i64>,
    ) -> Result<(ItemRef, bool)> {
        let path = format!("/api/v1/{}/{}", kind_path(kind), enc(id));
        let mut builder = self
            .request(Method::PUT, &path)
            .json(&json!({ kind_key(kind): document }));
        if let Some(base) = base {
            builder = builder.header(header::IF_MATCH, format!("\"{base}\""));
        }
        let mut saved: Value = self.json(builder).await?;
        let merged = saved
            .get("merged")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((item_ref(&mut saved, kind)?, merged))
    }

    /// Deletes an item decided on `base` (a stale base is a conflict when
    /// the item was edited since).
    pub async fn delete_item(&self, kind: ItemKind, id: &str, base: Option<i64>) -> Result<()> {
        let path = format!("/api/v1/{}/{}", kind_path(kind), enc(id));
        let mut builder = self.request(Method::DELETE, &path);
        if let Some(base) = base {
            builder = builder.header(header::IF_MATCH, format!("\"{base}\""));
        }
        self.send(builder).await.map(drop)
    }

    pub async fn conflicts(&self) -> Result<ConflictList> {
        self.json(self.request(Method::GET, "/api/v1/conflicts"))
            .await
    }

    pub async fn conflict(&self, id: &str) -> Result<ConflictDetail> {
        let path = format!("/api/v1/conflicts/{}", enc(id));
        self.json(self.request(Method::GET, &path)).await
    }

    pub async fn resolve(&self, id: &str, keep: Keep, document: Option<Value>) -> Result<Resolved> {
        let path = format!("/api/v1/conflicts/{}/resolve", enc(id));
        let body = ResolveRequest { keep, document };
        self.json(self.request(Method::POST, &path).json(&body))
            .await
    }

    /// Imports a Postman file or data export (`POST /api/v1/imports`).
    pub async fn import(&self, upload: Upload, team: Option<&str>) -> Result<ImportResult> {
        let mut builder = self
            .request(Method::POST, "/api/v1/imports")
            .header(header::CONTENT_TYPE, upload.content_type)
            .header(header::CONTENT_LENGTH, upload.len)
            .body(upload.body);
        if let Some(team) = team {
            builder = builder.query(&[("team", team)]);
        }
        self.json(builder).await
    }

    /// Approves a device sign-in (`postroom login --no-browser` elsewhere)
    /// by its user code, as this client's person.
    pub async fn approve_device(&self, user_code: &str) -> Result<Value> {
        self.json(
            self.request(Method::POST, "/api/v1/device-authorizations/approve")
                .json(&json!({ "user_code": user_code })),
        )
        .await
    }
}

fn item_ref(envelope: &mut Value, kind: ItemKind) -> Result<ItemRef> {
    let value = envelope
        .get_mut(kind_key(kind))
        .map(Value::take)
        .ok_or_else(|| Error::Protocol(format!("the answer has no `{}`", kind_key(kind))))?;
    serde_json::from_value(value).map_err(|e| Error::Protocol(e.to_string()))
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let url = response.url().to_string();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::unreachable(&url, &error_chain(&e)))?;
    if status == StatusCode::NO_CONTENT {
        return serde_json::from_slice(b"null").map_err(|e| Error::Protocol(e.to_string()));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("{url}: {e}")))
}

/// A path segment, percent-encoded.
fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// An error with its causes, as one line ("error sending request:
/// connection refused").
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = cause_of(source);
    }
    text
}

fn cause_of<'a>(
    err: Option<&'a (dyn std::error::Error + 'static)>,
) -> Option<&'a (dyn std::error::Error + 'static)> {
    err.and_then(|e| e.source())
}

/// `postroom/<version> (<os>)`: the server lists such a session as the
/// Postroom CLI.
pub fn user_agent() -> String {
    format!(
        "postroom/{} ({})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}
