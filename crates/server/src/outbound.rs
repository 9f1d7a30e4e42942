//! HTTP clients for the services the server calls (OpenID providers, the
//! payment provider): TLS by rustls with the *ring* provider and the
//! system's roots, no redirects followed, bounded waits, and our user agent.

use std::sync::Arc;
use std::time::Duration;

/// A client that gives up connecting after `connect` and on a whole
/// request after `total`.
pub fn client(connect: Duration, total: Duration) -> anyhow::Result<reqwest::Client> {
    let crypto = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(crypto.clone())?;
    let tls = rustls::ClientConfig::builder_with_provider(crypto)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect)
        .timeout(total)
        .user_agent(concat!("postroom/", env!("CARGO_PKG_VERSION")))
        .build()?)
}
