//! A typed client of Postroom's public API, for the `postroom` command and
//! for any Rust program that talks to a Postroom server: the JSON API
//! ([`Client`]), the sync socket ([`socket`]), and browser sign-in for
//! native apps ([`oauth`]: authorization code with PKCE and a loopback
//! redirect, and the device authorization grant).
//!
//! Errors keep what a caller branches on: whether the server could be
//! reached at all ([`Error::Unreachable`], the client is offline), whether
//! the credentials ended ([`Error::Unauthenticated`]), and the server's
//! stable error code otherwise.

mod client;
mod error;
pub mod oauth;
pub mod socket;

pub use client::{Auth, Client, Document, Upload};
pub use error::{Error, Result};

/// Makes rustls use *ring* for every TLS connection of this process (HTTPS
/// and secure WebSockets). Idempotent; call before the first connection.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
