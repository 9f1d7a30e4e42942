//! What every request handler and background task shares.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng as _;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::clock::Clock;
use crate::config::Settings;
use crate::deferred::Deferred;
use crate::domain::captcha::Captcha;
use crate::domain::dns::{Dns, HickoryResolver};
use crate::domain::passwords::Hasher;
use crate::domain::workspace::secrets::Kek;
use crate::mail::Mailer;
use crate::store::Store;

#[derive(Clone)]
pub struct App(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub clock: Clock,
    pub hasher: Hasher,
    pub captcha: Captcha,
    pub mailer: Mailer,
    /// The mail worker's signs of life, for the readiness check.
    pub mail_worker: crate::mail::worker::Heartbeat,
    /// Work that runs after a reply (see `deferred`).
    pub deferred: Deferred,
    /// The DNS resolver for team domain verification.
    pub dns: Dns,
    /// Derives team invite tokens from invite ids (see `domain::teams`).
    pub invite_key: [u8; 32],
    /// Signs the web forms' CSRF tokens.
    pub csrf_key: [u8; 32],
    /// Signs public links to collections (see `domain::workspace::links`).
    pub link_key: [u8; 32],
    /// Signs sync cursors (see `domain::workspace::changes`).
    pub cursor_key: [u8; 32],
    /// Becomes true when the server begins to shut down: live sockets close
    /// (with "going away") instead of holding the shutdown up.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Wraps the data keys that seal environments and globals at rest.
    pub kek: Kek,
    /// Documents read lately (collections, not sealed ones).
    pub documents: crate::domain::workspace::DocumentCache,
    /// OpenID providers: their HTTP client and discovery documents.
    pub oidc: crate::domain::oidc::client::Providers,
    /// Derives the PKCE verifier and nonce of a provider sign-in from its state.
    pub oidc_key: [u8; 32],
    /// The payment provider, when billing is on (see [`App::payments`]).
    payments: std::sync::RwLock<Option<Arc<dyn crate::billing::PaymentProvider>>>,
}

impl Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    pub async fn new(settings: Settings, clock: Clock) -> anyhow::Result<App> {
        use_ring_by_default();
        crate::files::create_private_dir(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
        make_private(&settings);
        let secret = server_key(&settings)?;
        let store = Store::connect(
            settings.database_url.expose_secret(),
            settings.database_max_connections,
        )
        .await?;
        let hasher = Hasher::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.password_memory_idle,
        )?;
        let dns_resolver = settings.dns_resolver;
        let kek = Kek::new(derive_key(&secret, "data-key-encryption"));
        kek.check(&mut *store.conn().await?).await?;
        let captcha = Captcha::new(derive_key(&secret, "captcha"), settings.captcha_difficulty);
        let payments: Option<Arc<dyn crate::billing::PaymentProvider>> = match &settings.stripe {
            Some(s) => Some(Arc::new(
                crate::billing::Stripe::new(s.api_url.clone(), s.secret_key.clone())
                    .context("making the payment provider's HTTP client")?,
            )),
            None => None,
        };
        Ok(App(Arc::new(Inner {
            settings,
            store,
            clock,
            hasher,
            captcha,
            mailer: Mailer::new(),
            mail_worker: Default::default(),
            deferred: Deferred::start(),
            dns: Dns::new(Arc::new(HickoryResolver::new(dns_resolver))),
            invite_key: derive_key(&secret, "team-invite"),
            csrf_key: derive_key(&secret, "csrf"),
            link_key: derive_key(&secret, "public-link"),
            cursor_key: derive_key(&secret, "sync-cursor"),
            closing: tokio::sync::watch::Sender::new(false),
            kek,
            documents: Default::default(),
            oidc: crate::domain::oidc::client::Providers::new()
                .context("making the OpenID providers' HTTP client")?,
            oidc_key: derive_key(&secret, "oidc-request"),
            payments: std::sync::RwLock::new(payments),
        })))
    }

    /// The payment provider; `None` when billing is off (no Stripe key):
    /// the operator sets plans and nothing is charged (B10).
    pub fn payments(&self) -> Option<Arc<dyn crate::billing::PaymentProvider>> {
        self.payments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts another provider in front of the configured one: a test wraps
    /// the real one to lose its answers, as a crash or a network fault would.
    pub fn wrap_payments(
        &self,
        wrap: impl FnOnce(
            Arc<dyn crate::billing::PaymentProvider>,
        ) -> Arc<dyn crate::billing::PaymentProvider>,
    ) {
        let mut slot = self.payments.write().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = slot.take() {
            *slot = Some(wrap(current));
        }
    }
}

/// Makes *ring* the process's rustls provider, unless one was chosen
/// already. The server's own TLS (both sides) names its provider itself;
/// this is for HTTPS clients built without one in the same process (the
/// server's reqwest has rustls without a provider of its own, so that the
/// server builds no aws-lc).
pub fn use_ring_by_default() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Takes from other local users what an older version left readable: the
/// SQLite database with its -wal and -shm files, and the outbox.
fn make_private(settings: &Settings) {
    let mut paths = Vec::new();
    if let Some((db, _)) = crate::store::sqlite_file(settings.database_url.expose_secret()) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            paths.push((name.into(), 0o600));
        }
    }
    let outbox = settings.data_dir.join("outbox");
    paths.push((outbox.clone(), 0o700));
    if let Ok(mails) = std::fs::read_dir(&outbox) {
        paths.extend(mails.filter_map(|e| e.ok()).map(|e| (e.path(), 0o600)));
    }
    match crate::files::tighten(&paths) {
        Ok(changed) if changed.is_empty() => {}
        Ok(changed) => {
            let (mails, others): (Vec<_>, Vec<_>) =
                changed.iter().partition(|p| p.parent() == Some(&outbox));
            tracing::info!(
                files = ?others,
                outbox_mails = mails.len(),
                "made files other local users could read private (0600, directories 0700)"
            );
        }
        Err(e) => tracing::warn!(
            error = %e,
            "the database or the outbox stays readable by other local users"
        ),
    }
}

/// The server's secret: from the configuration, or from `server.key` in the
/// data directory, created (mode 0600) on first start.
fn server_key(settings: &Settings) -> anyhow::Result<[u8; 32]> {
    let hex_key = match &settings.secret_key {
        Some(k) => k.expose_secret().to_owned(),
        None => {
            let path = settings.data_dir.join("server.key");
            match std::fs::read_to_string(&path) {
                Ok(s) => s.trim().to_owned(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let mut key = [0u8; 32];
                    rand::rngs::SysRng
                        .try_fill_bytes(&mut key)
                        .context("reading the system's random source")?;
                    let hex_key = hex::encode(key);
                    write_private(&path, &hex_key)
                        .with_context(|| format!("creating {}", path.display()))?;
                    hex_key
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    };
    let bytes = hex::decode(&hex_key)
        .ok()
        .filter(|b| b.len() == 32)
        .context("the server key is not 64 hex characters")?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// A key for one purpose, derived from the server key, so that a key leaked
/// from one use does not open the others.
pub fn derive_key(secret: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}
