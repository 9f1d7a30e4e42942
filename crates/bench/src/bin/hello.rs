//! The baseline for the read figure: a bare axum "hello world" on the same
//! runtime setup as `postroom serve` (tokio's multi-threaded runtime, one
//! worker per core), listening on a free loopback port that it prints.

use axum::routing::get;
use axum::Router;

fn main() -> std::io::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = Router::new().route("/", get(|| async { "Hello, World!" }));
        axum::serve(listener, app).await
    })
}
