//! The baseline of the read figures: a bare axum server on the same runtime
//! setup as `postroom serve` (tokio's multi-threaded runtime, one worker per
//! core), listening on a free loopback port that it prints. `/` answers
//! "Hello, World!"; with a file as its argument, `/body` answers that file's
//! bytes from memory as JSON (the baseline of the collection figure).

use axum::http::header;
use axum::routing::get;
use axum::Router;

fn main() -> std::io::Result<()> {
    let body: Option<&'static [u8]> = match std::env::args_os().nth(1) {
        Some(path) => Some(std::fs::read(path)?.leak()),
        None => None,
    };
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on http://{}", listener.local_addr()?);
        let mut app = Router::new().route("/", get(|| async { "Hello, World!" }));
        if let Some(body) = body {
            app = app.route(
                "/body",
                get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
            );
        }
        axum::serve(listener, app).await
    })
}
