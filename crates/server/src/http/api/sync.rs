//! Sync (S4-S7): `GET /api/v1/changes` (the change log from a cursor),
//! `/api/v1/conflicts` (writes kept because they could not be merged, and
//! their resolution) and the sync socket `GET /api/v1/sync` (the change log
//! pushed live over a WebSocket).
//!
//! The socket sends what the client missed first, page by page as the
//! change log would, then `{"type": "synced"}`, then every new change as it
//! commits. It listens to the hub (see `crate::hub`), so a change reaches it
//! without a query; a change from another node, or one the hub dropped for
//! a slow socket, is read from the store in order, so none is lost or sent
//! twice. It looks at the credentials again whenever the person's access
//! changes (a session revoked, a membership ended) and on every heartbeat:
//! an ended session closes the socket with 4001, a lost team with 4003.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use postroom_core::api::{
    close, ChangePage, ChangesQuery, ConflictDetail, ConflictList, ErrorBody, ResolveRequest,
    Resolved, SyncMessage,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::actor::Actor;
use crate::domain::workspace::changes::{self, Cursor, Namer, Pos, Scope};
use crate::domain::workspace::conflicts;
use crate::error::{Error, Result};
use crate::http::extract::{reauthenticate, ApiJson, ApiQuery, Auth};
use crate::hub::{self, Subscription};
use crate::state::App;

/// How often the socket says it is alive, and looks at the credentials.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a client may take to accept a message before it counts as too
/// slow and is closed (it catches up when it reconnects).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Changes per page while catching up.
const CATCH_UP_PAGE: usize = 1000;
/// The socket's read buffer. Clients send nothing but control frames
/// (pings, pongs, close: at most 131 bytes each), and tungstenite zeroes
/// the free part of its read buffer before every read: its default of
/// 128 KiB cost each idle socket 128 KiB of memory. A longer frame still
/// arrives whole (the buffer grows for it).
const READ_BUFFER: usize = 1024;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_changes))
        .routes(routes!(list_conflicts))
        .routes(routes!(get_conflict))
        .routes(routes!(resolve_conflict))
        .routes(routes!(sync_socket))
}

/// What changed in my items and my teams' since `since`, oldest first. The
/// first call (no `since`) answers every item I can see as `created`; a
/// team I joined since my cursor arrives the same way, and the items of a
/// team I left as `deleted`. Ask again while `more` is true.
#[utoipa::path(get, path = "/api/v1/changes", tag = "sync", params(ChangesQuery), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = ChangePage), (status = 400, body = ErrorBody, description = "invalid_cursor"),
        (status = 401, body = ErrorBody), (status = 410, body = ErrorBody, description = "cursor_expired: start again without a cursor")))]
async fn get_changes(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<ChangePage>> {
    Ok(Json(
        changes::changes(&app, &actor, q.since.as_deref(), q.limit).await?,
    ))
}

/// My open conflicts: writes of mine that met changes to the same fields,
/// kept until I resolve them.
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "sync", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = ConflictList), (status = 401, body = ErrorBody)))]
async fn list_conflicts(State(app): State<App>, Auth(actor): Auth) -> Result<Json<ConflictList>> {
    Ok(Json(conflicts::list(&app, &actor).await?))
}

/// A conflict with my write (`mine`) and the item as it is now (`theirs`).
#[utoipa::path(get, path = "/api/v1/conflicts/{id}", tag = "sync", params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = ConflictDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_conflict(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ConflictDetail>> {
    Ok(Json(conflicts::get(&app, &actor, &id).await?))
}

/// Resolve a conflict: keep `mine` (my write wins where it conflicts,
/// merged onto the current revision, so edits made since stay), `theirs`
/// (the current revision stays), or `merged` with the `document` I edited.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "sync", params(("id" = String, Path)), request_body = ResolveRequest,
    security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = Resolved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict_resolved, or conflict: the merge met new changes in the same place"),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_conflict(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<Json<Resolved>> {
    Ok(Json(
        conflicts::resolve(&app, &actor, &id, req.keep, req.document).await?,
    ))
}

/// The sync socket: a WebSocket that sends the changes after `since` (as
/// `GET /api/v1/changes` would), then `{"type": "synced"}`, then each new
/// change as it happens: `{"type": "change", "change": {...}, "cursor"}`.
/// `{"type": "heartbeat"}` comes every 15 s when nothing else does. Close
/// codes: 4001 the session ended (sign in again), 4003 access changed
/// (reconnect with the cursor), 4008 too slow (reconnect with the cursor),
/// 1001 the server is going away.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync", params(ChangesQuery), security(("session" = []), ("api_key" = [])),
    responses((status = 101, description = "Switching Protocols: the socket is open"),
        (status = 400, body = ErrorBody, description = "websocket_required, or invalid_cursor"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "bad_origin: a browser page of another site"),
        (status = 410, body = ErrorBody, description = "cursor_expired")))]
async fn sync_socket(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ChangesQuery>,
    headers: HeaderMap,
    upgrade: std::result::Result<
        WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Result<Response> {
    let upgrade = upgrade.map_err(|_| {
        Error::bad_request(
            "websocket_required",
            "this is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)",
        )
    })?;
    check_origin(&app, &headers)?;
    let cursor = match &q.since {
        Some(text) => Cursor::decode(&app.cursor_key, &actor.user_id, text)?,
        None => Cursor::default(),
    };
    // The first page now, so that an expired cursor is a 410, not a socket
    // that closes at once.
    let mut c = app.store.conn().await?;
    let scopes = changes::scopes_of(&mut c, &actor.user_id).await?;
    let mut namer = Namer::new();
    let first = changes::page(
        &mut c,
        &actor.user_id,
        &scopes,
        cursor,
        CATCH_UP_PAGE,
        &mut namer,
        app.clock.now(),
    )
    .await?;
    drop(c);
    let credentials = credentials(&headers);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let mut session = Session {
                app,
                actor,
                credentials,
                socket,
                scopes,
                namer,
                cursor: Cursor::default(),
            };
            let reason = session.run(first).await;
            session.close(reason).await;
        })
        .into_response())
}

/// A browser sends its cookie with any page's WebSocket: only pages of this
/// server may open the socket with it.
fn check_origin(app: &App, headers: &HeaderMap) -> Result<()> {
    if headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key(crate::http::extract::API_KEY_HEADER)
    {
        return Ok(());
    }
    let public = app.settings.public_url.origin().ascii_serialization();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin == Some(public.as_str()) {
        return Ok(());
    }
    Err(Error::forbidden(
        "bad_origin",
        format!("a socket opened with the session cookie must come from a page of {public}"),
    ))
}

/// The request headers that carry credentials, to check them again later.
/// Copied, not cloned: a received header value is a slice of the
/// connection's read buffer (16 KiB), and a clone would keep that buffer
/// alive as long as the socket.
fn credentials(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::HeaderName::from_static(crate::http::extract::API_KEY_HEADER),
    ] {
        for value in headers.get_all(&name) {
            if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
                copy.set_sensitive(value.is_sensitive());
                kept.append(name.clone(), copy);
            }
        }
    }
    kept
}

/// Why a socket ends.
enum End {
    /// The client closed it, or the connection dropped.
    Gone,
    /// The server is shutting down.
    Shutdown,
    SessionEnded,
    AccessChanged,
    TooSlow,
    CursorExpired,
    /// The store failed; the client reconnects later.
    Failed,
}

struct Session {
    app: App,
    actor: Actor,
    credentials: HeaderMap,
    socket: WebSocket,
    scopes: Vec<Scope>,
    namer: Namer,
    cursor: Cursor,
}

impl Session {
    async fn run(&mut self, first: (Vec<postroom_core::api::Change>, Cursor, bool)) -> End {
        let mut closing = self.app.closing.subscribe();
        if *closing.borrow_and_update() {
            return End::Shutdown;
        }
        let mut sub = self.subscribe();
        let (changes, cursor, mut more) = first;
        self.cursor = cursor;
        if let Err(end) = self.send_changes(changes).await {
            return end;
        }
        while more {
            match self.next_page().await {
                Ok(m) => more = m,
                Err(end) => return end,
            }
        }
        self.follow(&mut sub);
        let synced = SyncMessage::Synced {
            cursor: self.encoded(),
        };
        if let Err(end) = self.send(&synced).await {
            return end;
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                wake = sub.next(&self.app.store) => {
                    let wake = match wake {
                        Ok(wake) => wake,
                        Err(e) => {
                            tracing::warn!(error = %e, "sync socket: reading changes failed");
                            return End::Failed;
                        }
                    };
                    if wake.signalled {
                        match self.look_again().await {
                            Ok(true) => sub = self.subscribe_following(),
                            Ok(false) => {}
                            Err(end) => return end,
                        }
                    }
                    if let Err(end) = self.deliver(&wake.events).await {
                        return end;
                    }
                    heartbeat.reset();
                }
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Gone,
                    Some(Ok(_)) => {} // pings are answered by the socket itself
                },
                _ = heartbeat.tick() => {
                    match self.look_again().await {
                        Ok(true) => sub = self.subscribe_following(),
                        Ok(false) => {}
                        Err(end) => return end,
                    }
                    if let Err(end) = self.send(&SyncMessage::Heartbeat).await {
                        return end;
                    }
                }
                // The only change is to closing.
                _ = closing.changed() => return End::Shutdown,
            }
        }
    }

    fn subscribe(&self) -> Subscription {
        let scopes: Vec<String> = self.scopes.iter().map(|s| s.scope.clone()).collect();
        self.app.store.hub().subscribe_signals(
            &scopes,
            &[hub::access_signal(&self.actor.user_id)],
            HashMap::new(),
            hub::QUEUE,
            hub::POLL,
        )
    }

    /// A new subscription that starts where the cursor stands (after the
    /// scopes changed and were caught up).
    fn subscribe_following(&mut self) -> Subscription {
        let mut sub = self.subscribe();
        self.follow(&mut sub);
        sub
    }

    /// Starts `sub` at the cursor's positions.
    fn follow(&self, sub: &mut Subscription) {
        for scope in &self.scopes {
            if let Some(Pos::Seq(seq)) = self.cursor.positions.get(&scope.key) {
                sub.set_position(&scope.scope, *seq);
            }
        }
    }

    fn encoded(&self) -> String {
        self.cursor
            .encode(&self.app.cursor_key, &self.actor.user_id)
    }

    /// Reads and sends the next page of the change log; whether more wait.
    async fn next_page(&mut self) -> Result<bool, End> {
        let mut c = self.app.store.conn().await.map_err(|_| End::Failed)?;
        let cursor = std::mem::take(&mut self.cursor);
        let page = changes::page(
            &mut c,
            &self.actor.user_id,
            &self.scopes,
            cursor.clone(),
            CATCH_UP_PAGE,
            &mut self.namer,
            self.app.clock.now(),
        )
        .await;
        drop(c);
        let (changes, next, more) = match page {
            Ok(p) => p,
            Err(Error::Gone { .. }) => return Err(End::CursorExpired),
            Err(e) => {
                self.cursor = cursor;
                tracing::warn!(error = %e, "sync socket: reading the change log failed");
                return Err(End::Failed);
            }
        };
        self.cursor = next;
        self.send_changes(changes).await?;
        Ok(more)
    }

    /// Sends events the hub delivered, in order; a gap (which the hub
    /// should never leave) is filled from the change log.
    async fn deliver(
        &mut self,
        events: &[std::sync::Arc<crate::store::events::EventRow>],
    ) -> Result<(), End> {
        for row in events {
            let Some(scope) = self.scopes.iter().find(|s| s.scope == row.scope).cloned() else {
                continue;
            };
            let at = match self.cursor.positions.get(&scope.key) {
                Some(Pos::Seq(seq)) => *seq,
                _ => continue,
            };
            if row.seq <= at {
                continue;
            }
            if row.seq > at + 1 {
                while self.next_page().await? {}
                continue;
            }
            let team = scope.team.as_ref().map(|(_, slug)| slug.as_str());
            // The store only when the change's author is new to this socket.
            let change = match self.namer.known_event(row, team) {
                Some(change) => change,
                None => {
                    let mut c = self.app.store.conn().await.map_err(|_| End::Failed)?;
                    self.namer
                        .event(&mut c, row, team)
                        .await
                        .map_err(|_| End::Failed)?
                }
            };
            self.cursor
                .positions
                .insert(scope.key.clone(), Pos::Seq(row.seq));
            if let Some(change) = change {
                let message = SyncMessage::Change {
                    change,
                    cursor: self.encoded(),
                };
                self.send(&message).await?;
            }
        }
        Ok(())
    }

    /// Checks the credentials and the person's scopes again. A scope lost
    /// sends its items as deleted and ends the socket; a scope gained is
    /// caught up (its items as created) and followed: true.
    async fn look_again(&mut self) -> Result<bool, End> {
        match reauthenticate(&self.app, &self.credentials).await {
            Ok(Some(actor)) if actor.user_id == self.actor.user_id => {}
            Ok(_) | Err(Error::Unauthenticated { .. }) | Err(Error::Forbidden { .. }) => {
                return Err(End::SessionEnded)
            }
            Err(_) => return Err(End::Failed),
        }
        let mut c = self.app.store.conn().await.map_err(|_| End::Failed)?;
        let scopes = changes::scopes_of(&mut c, &self.actor.user_id)
            .await
            .map_err(|_| End::Failed)?;
        drop(c);
        let keys = |s: &[Scope]| {
            let mut k: Vec<String> = s.iter().map(|s| s.key.clone()).collect();
            k.sort();
            k
        };
        if keys(&scopes) == keys(&self.scopes) {
            return Ok(false);
        }
        let lost = self
            .scopes
            .iter()
            .any(|old| !scopes.iter().any(|s| s.key == old.key));
        self.scopes = scopes;
        while self.next_page().await? {}
        if lost {
            return Err(End::AccessChanged);
        }
        Ok(true)
    }

    async fn send_changes(&mut self, changes: Vec<postroom_core::api::Change>) -> Result<(), End> {
        let cursor = self.encoded();
        for change in changes {
            let message = SyncMessage::Change {
                change,
                cursor: cursor.clone(),
            };
            self.send(&message).await?;
        }
        Ok(())
    }

    async fn send(&mut self, message: &SyncMessage) -> Result<(), End> {
        let text = serde_json::to_string(message).expect("messages serialize");
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into()))).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::TooSlow),
        }
    }

    async fn close(mut self, end: End) {
        let (code, reason) = match end {
            End::Gone => return,
            End::Shutdown => (close::GOING_AWAY, "the server is restarting: reconnect"),
            End::SessionEnded => (close::SESSION_ENDED, "the session ended: sign in again"),
            End::AccessChanged => (close::ACCESS_CHANGED, "your access changed: reconnect"),
            End::TooSlow => (close::TOO_SLOW, "too slow to keep up: reconnect"),
            End::CursorExpired => (
                close::CURSOR_EXPIRED,
                "the cursor expired: fetch everything again",
            ),
            End::Failed => (1011, "the server could not go on: reconnect later"),
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
