//! The baseline of the sync figures: a bare axum WebSocket server on the same
//! runtime setup as `postroom serve` (tokio's multi-threaded runtime, one
//! worker per core), listening on a free loopback port that it prints.
//! `GET /ws` opens a socket, which is sent `{"type":"synced"}` and then every
//! body posted to `POST /broadcast`, through one `tokio::sync::broadcast`
//! channel; the POST answers how many sockets were listening. No
//! authentication, no storage, no serialization per socket: each socket
//! sends the same bytes.

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::broadcast::{self, error::RecvError};

/// The sync socket's read buffer (`READ_BUFFER` in the server's
/// `http/api/sync.rs`), so that both sides use the same socket settings.
const READ_BUFFER: usize = 1024;
/// Messages a socket may fall behind by before it skips some (the bench
/// sends one at a time, so none is ever skipped).
const BACKLOG: usize = 256;

fn main() -> std::io::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on http://{}", listener.local_addr()?);
        let (tx, _) = broadcast::channel::<Utf8Bytes>(BACKLOG);
        let app = Router::new()
            .route("/ws", get(open))
            .route("/broadcast", post(publish))
            .with_state(tx);
        axum::serve(listener, app).await
    })
}

async fn open(
    State(tx): State<broadcast::Sender<Utf8Bytes>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| serve(socket, tx.subscribe()))
}

async fn serve(mut socket: WebSocket, mut rx: broadcast::Receiver<Utf8Bytes>) {
    if socket
        .send(Message::text(r#"{"type":"synced"}"#))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Ok(text) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn publish(State(tx): State<broadcast::Sender<Utf8Bytes>>, body: String) -> String {
    tx.send(body.into()).unwrap_or(0).to_string()
}
