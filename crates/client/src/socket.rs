//! The sync socket (`GET /api/v1/sync`): the change log pushed as it
//! happens, missed changes first.

use futures_util::{SinkExt as _, StreamExt as _};
use postroom_core::api::{close, SyncMessage};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest as _, Message};

use crate::client::error_chain;
use crate::{Auth, Client, Error, Result};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open sync socket.
pub struct SyncSocket {
    stream: Stream,
}

/// Why a socket closed, as its close code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The session ended: sign in again.
    SessionEnded,
    /// The cursor is older than the change log: fetch everything again.
    CursorExpired,
    /// Anything else (access changed, too slow, going away, a dropped
    /// connection): reconnect with the cursor.
    Reconnect(String),
}

impl SyncSocket {
    /// Connects with the client's credentials, from `since` (a change-log
    /// cursor).
    pub async fn connect(client: &Client, since: Option<&str>) -> Result<SyncSocket> {
        let mut url = client.url("/api/v1/sync");
        if let Some(since) = since {
            url.query_pairs_mut().append_pair("since", since);
        }
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| Error::Protocol(format!("cannot make a WebSocket URL of {url}")))?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let headers = request.headers_mut();
        let auth = match client.auth() {
            Some(Auth::Bearer(token)) => ("authorization", format!("Bearer {token}")),
            Some(Auth::ApiKey(key)) => ("x-api-key", key.clone()),
            None => return Err(Error::Protocol("the sync socket needs credentials".into())),
        };
        headers.insert(
            auth.0,
            auth.1
                .parse()
                .map_err(|_| Error::Protocol("credentials are not a valid header".into()))?,
        );
        headers.insert(
            "user-agent",
            crate::client::user_agent()
                .parse()
                .map_err(|_| Error::Protocol("bad user agent".into()))?,
        );
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(SyncSocket { stream }),
            Err(tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response.body().clone().unwrap_or_default();
                Err(Error::from_answer(client.base().as_str(), status, &body))
            }
            Err(err) => Err(Error::unreachable(
                client.base().as_str(),
                &error_chain(&err),
            )),
        }
    }

    /// The next message, or why the socket closed.
    pub async fn next(&mut self) -> std::result::Result<SyncMessage, Closed> {
        loop {
            let Some(frame) = self.stream.next().await else {
                return Err(Closed::Reconnect("the connection ended".into()));
            };
            match frame {
                Ok(Message::Text(text)) => match serde_json::from_str(text.as_str()) {
                    Ok(message) => return Ok(message),
                    // A message of a newer server: skip it.
                    Err(_) => continue,
                },
                Ok(Message::Ping(payload)) => {
                    let _ = self.stream.send(Message::Pong(payload)).await;
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(match code {
                        close::SESSION_ENDED => Closed::SessionEnded,
                        close::CURSOR_EXPIRED => Closed::CursorExpired,
                        _ => Closed::Reconnect(format!("closed by the server ({code} {reason})")),
                    });
                }
                Ok(_) => {}
                Err(err) => return Err(Closed::Reconnect(error_chain(&err))),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
